import Testing

@testable import LifeboatNotify

/// The AMI packet format on its own: CRLF lines, a blank line at the end, no line breaks in values.
@Suite struct AMIPacketTests {
    @Test func aPacketIsKeyValueLinesEndedByCRLFAndABlankLine() throws {
        let packet = AMIPacket([.init("Action", "Ping"), .init("ActionID", "lifeboat-1")])
        let bytes = try #require(packet.encoded())
        #expect(String(decoding: bytes, as: UTF8.self) == "Action: Ping\r\nActionID: lifeboat-1\r\n\r\n")
    }

    @Test(arguments: ["a\rb", "a\nb", "a\r\nAction: Logoff", "nul\u{0}"])
    func aValueWithALineBreakOrNULIsNotEncoded(value: String) {
        #expect(AMIPacket([.init("Data", value)]).encoded() == nil)
        #expect(AMIPacket([.init("Data", value)]).unsafeFieldName == "Data")
    }

    @Test func aNameWithAColonIsNotEncoded() {
        #expect(AMIPacket([.init("Data: x", "y")]).encoded() == nil)
    }

    @Test func fieldsAreFoundWithoutRegardToCaseAndTheSecretIsRedacted() {
        let packet = AMIPacket([.init("Action", "Login"), .init("Username", "u"), .init("Secret", "hunter2")])
        #expect(packet["action"] == "Login")
        #expect(packet["SECRET"] == "hunter2")
        #expect(packet["Missing"] == nil)
        #expect(packet.description == "Action: Login\nUsername: u\nSecret: <redacted>")
    }

    @Test func receivedLinesAreSplitAtTheFirstColon() {
        #expect(
            AMIPacket.field(fromLine: "Message: Originate successfully queued")
                == .init("Message", "Originate successfully queued"))
        #expect(
            AMIPacket.field(fromLine: "Channel: Local/1001@from-internal-0001;1")
                == .init("Channel", "Local/1001@from-internal-0001;1"))
        #expect(AMIPacket.field(fromLine: "Context:") == .init("Context", ""))
        #expect(AMIPacket.field(fromLine: "Timestamp: 12:00:01") == .init("Timestamp", "12:00:01"))
        #expect(AMIPacket.field(fromLine: "no colon here") == nil)
    }

    @Test func reasonsNoAnswerBusyAndCongestionAreTheTransientOnes() {
        #expect(AMIClient.transientReasons == [3, 5, 8])
        #expect(AMIClient.describe(reason: 5).contains("busy"))
        #expect(AMIClient.describe(reason: 42).contains("42"))
    }
}
