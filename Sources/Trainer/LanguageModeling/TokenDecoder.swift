/// Ids back to text for a byte-level BPE vocabulary: each token's printable characters mapped
/// back to their bytes (added tokens stand for their own text), the bytes read as UTF-8 with
/// U+FFFD for what is not, as `tokenizers` decodes. `skip` (EOS) is left out.
public struct TokenDecoder: Sendable {
    let bytes: [[UInt8]]

    public init(_ tokenizer: ByteLevelBPETokenizer) {
        var inverse: [Unicode.Scalar: UInt8] = [:]
        for (b, c) in ByteLevelBPETokenizer.byteCharacters.enumerated() { inverse[c] = UInt8(b) }
        var table = [[UInt8]](repeating: [], count: tokenizer.vocab.values.map { Int($0) + 1 }.max() ?? 0)
        for (token, id) in tokenizer.vocab {
            table[Int(id)] = token.unicodeScalars.flatMap { inverse[$0].map { [$0] } ?? Array(String($0).utf8) }
        }
        for t in tokenizer.addedTokens where Int(t.id) < table.count {
            table[Int(t.id)] = Array(String(String.UnicodeScalarView(t.content)).utf8)
        }
        bytes = table
    }

    public func decode(_ ids: [Int32], skip: Set<Int32> = []) -> String {
        var out: [UInt8] = []
        for id in ids where !skip.contains(id) && id >= 0 && Int(id) < bytes.count { out += bytes[Int(id)] }
        return String(decoding: out, as: UTF8.self)
    }
}
