import Foundation

/// What a failed read or write means for the user, from the system's own reason (strerror), with
/// what to do for the failures users can fix: a full disk, a read-only filesystem, no permission,
/// a missing folder. Foundation's errors carry the POSIX code underneath; it is dug out so that
/// "The operation could not be completed" never reaches a user.
public enum SystemErrors {
    public static func explain(code: Int32, place: String = "the folder") -> String {
        let text = String(cString: strerror(code))
        switch code {
        case ENOSPC, EDQUOT: return "\(text): the disk is full; free space and run the same command again"
        case EROFS: return "\(text): \(place) is on a read-only filesystem; write to a writable one"
        case EACCES, EPERM: return "\(text): no permission for \(place)"
        case ENOENT: return "\(text): \(place) does not exist"
        default: return text
        }
    }

    /// The POSIX code under a Foundation error, if there is one.
    public static func posixCode(_ error: Error) -> Int32? {
        var e: NSError? = error as NSError
        while let current = e {
            if current.domain == NSPOSIXErrorDomain { return Int32(current.code) }
            e = current.userInfo[NSUnderlyingErrorKey] as? NSError
        }
        let cocoa = error as NSError
        switch cocoa.code {
        case NSFileWriteVolumeReadOnlyError: return EROFS
        case NSFileWriteOutOfSpaceError: return ENOSPC
        case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return EACCES
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return ENOENT
        default: return nil
        }
    }

    public static func explain(_ error: Error, place: String = "the folder") -> String {
        posixCode(error).map { explain(code: $0, place: place) } ?? error.localizedDescription
    }

    /// Why a file cannot be read, in the user's terms (`reason`, without the path, which the caller's
    /// error names).
    public struct Unreadable: Error {
        public let reason: String
    }

    /// The bytes of the file at `path`. A folder given for a file is named as such: Foundation reports
    /// it only as "The operation could not be completed" (NSFileReadUnknownError).
    public static func readFile(_ path: String, mapped: Bool = false) throws(Unreadable) -> Data {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw Unreadable(reason: "it is a folder; expected a file")
        }
        do { return try Data(contentsOf: URL(fileURLWithPath: path), options: mapped ? .alwaysMapped : []) }
        catch {
            // The caller names the path; for a read the system's own words ("No such file or
            // directory", "Permission denied") say the rest.
            throw Unreadable(reason: posixCode(error).map { String(cString: strerror($0)) } ?? error.localizedDescription)
        }
    }
}
