#pragma once
// The few pieces of RFC 6455 and JSON the load generator needs, written for
// speed rather than generality: client frames (masked), server frames
// (unmasked), the upgrade handshake's accept key, and a scanner that finds one
// field in a compact JSON text without building a document. The benchmark
// must cost far less per message than the servers it measures.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace medrelay::bench {

enum class Opcode : std::uint8_t { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

// CLOCK_MONOTONIC in nanoseconds; comparable across the load generator's
// processes because they share the kernel clock.
[[nodiscard]] std::uint64_t monotonicNs();

// Cheap per-process random numbers for mask keys and jitter.
class XorShift final
{
public:
    explicit XorShift(std::uint64_t seed) : m_state(seed ? seed : 0x9E3779B97F4A7C15ULL) {}
    std::uint64_t next()
    {
        m_state ^= m_state << 13;
        m_state ^= m_state >> 7;
        m_state ^= m_state << 17;
        return m_state;
    }

private:
    std::uint64_t m_state = 1;
};

// Appends one frame with FIN set. A client frame is masked with maskKey; a
// server frame (mask == false) is not.
void appendFrame(std::string &out, Opcode opcode, std::string_view payload, bool mask, std::uint32_t maskKey);

struct Frame
{
    bool fin = true;
    Opcode opcode = Opcode::Text;
    std::string_view payload; // points into the caller's buffer (unmasked in place)
};

// Parses one frame from the front of buf. Returns the frame and sets consumed,
// or std::nullopt when more bytes are needed. Masked payloads are unmasked in
// place, which is why buf is mutable. `malformed` is set for frames this
// parser refuses (reserved bits, 64-bit lengths over maxPayload).
[[nodiscard]] std::optional<Frame> parseFrame(char *buf, std::size_t len, std::size_t &consumed, bool &malformed,
                                              std::size_t maxPayload = 16u << 20);

// Sec-WebSocket-Accept for a given Sec-WebSocket-Key.
[[nodiscard]] std::string websocketAccept(std::string_view key);

// The string value of "field":"..." in compact JSON (no escapes inside), or
// an empty view when absent.
[[nodiscard]] std::string_view jsonStringField(std::string_view json, std::string_view quotedKeyColon);
// The numeric value of "field":<number> (plain or exponent form), or nullopt.
[[nodiscard]] std::optional<double> jsonNumberField(std::string_view json, std::string_view quotedKeyColon);

} // namespace medrelay::bench
