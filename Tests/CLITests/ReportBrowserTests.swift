import XCTest
import Foundation
import TestSupport

/// report.html in a real browser (Debian's headless chromium, installed by scripts/setup): it loads
/// without console errors, every SVG has a size, and a screenshot is not blank.
final class ReportBrowserTests: XCTestCase {
    func chromium() throws -> String {
        for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        try missing("chromium not found; run scripts/setup --no-run (it installs Debian's chromium)")
    }

    func run(_ exe: String, _ args: [String]) throws -> (out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testReportLoadsWithoutErrorsAndDrawsEveryPlot() throws {
        let browser = try chromium()
        let d = scratchDirectory("browser")
        try #"{"name": "browser", "problem": {"name": "zdt1", "dimensions": 3}, "search": {"trials": 12, "initial": 6, "seed": 1}}"#
            .write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        let s = try runAutopeft(["search", d + "/space.json", "--out", d + "/study"])
        XCTAssertEqual(s.code, 0, s.err)
        // A copy of the page that reports, once laid out, each SVG's size and any script error.
        var html = try String(contentsOfFile: d + "/study/report.html", encoding: .utf8)
        let probe = """
        <script>window.__errors = []; window.addEventListener('error', e => window.__errors.push(String(e.message)));
        window.addEventListener('load', () => { document.title = 'PROBE' + JSON.stringify({errors: window.__errors,
          svgs: Array.from(document.querySelectorAll('svg')).map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; })}); });
        </script>
        """
        html = html.replacingOccurrences(of: "</body>", with: probe + "</body>")
        try html.write(toFile: d + "/study/probe.html", atomically: true, encoding: .utf8)
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1100,2400", "--enable-logging=stderr", "--v=0",
                      "--virtual-time-budget=5000"]
        let dom = try run(browser, common + ["--dump-dom", "file://" + d + "/study/probe.html"])
        let title = try XCTUnwrap(dom.out.range(of: "PROBE").map { dom.out[$0.upperBound...].prefix { $0 != "<" } }, dom.out.prefix(500) + dom.err)
        let probeResult = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(String(title).utf8)) as? [String: Any])
        XCTAssertEqual((probeResult["errors"] as? [String])?.count, 0, "script errors: \(probeResult)")
        let sizes = try XCTUnwrap(probeResult["svgs"] as? [[Double]])
        XCTAssertEqual(sizes.count, 2, "pareto and hypervolume plots inline")
        for size in sizes { XCTAssertTrue(size[0] > 100 && size[1] > 100, "an SVG drawn at \(size)") }
        XCTAssertFalse(dom.err.contains("Uncaught"), dom.err)
        XCTAssertFalse(dom.err.split(separator: "\n").contains { $0.contains("CONSOLE") && $0.contains("ERROR") }, dom.err)

        let shot = d + "/shot.png"
        _ = try run(browser, common + ["--screenshot=" + shot, "file://" + d + "/study/report.html"])
        // Not blank: many pixels differ from the page's white (decoded here with zlib, as PNG stores them).
        let check = try run("/usr/bin/env", ["python3", "-c", """
        import struct, sys, zlib
        data = open(sys.argv[1], 'rb').read()
        pos, idat, w, h = 8, b'', 0, 0
        while pos < len(data):
            n, kind = struct.unpack('>I4s', data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]
            if kind == b'IHDR': w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
            if kind == b'IDAT': idat += body
            pos += 12 + n
        raw = zlib.decompress(idat)
        bpp = 4 if ctype == 6 else 3
        stride = w * bpp + 1
        # Count non-white bytes in filtered rows of filter type 0 (None) or their deltas: any non-zero
        # delta or non-255 value means drawn content; a blank page is all 255 (or all-zero deltas).
        dark = sum(1 for r in range(h) for b in raw[r * stride + 1:(r + 1) * stride] if b not in (0, 255))
        print(w, h, dark)
        """, shot])
        let parts = check.out.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(parts.count, 3, check.out + check.err)
        if parts.count == 3 { XCTAssertGreaterThan(parts[2], parts[0] * parts[1] / 50, "the screenshot has drawn content: \(check.out)") }
    }
}
