import Foundation
import Testing

@testable import Harmonize

/// `String.withUTF8Bytes`: the bytes of the string, whatever its form (empty, small, large,
/// not ASCII, cut out of another string, bridged from `NSString`).
@Suite struct StringBytesTests {
    @Test func theBytesAreTheStringsUTF8() {
        let long = String(repeating: "CJ14ISRZ5YGEV215T", count: 9)
        let texts: [String] = [
            "", "01C593517", "CJ14ISRZ5YGEV215T", "é1234", "naïve café ☕️", long,
            String(long.dropFirst(3).prefix(40)), String(NSString(string: "bridged identifier 42")),
        ]
        for t in texts {
            #expect(t.withUTF8Bytes { Array($0) } == Array(t.utf8), "\(t)")
        }
    }
}
