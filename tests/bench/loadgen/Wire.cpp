#include "Wire.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace medrelay::bench {

std::uint64_t monotonicNs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

void appendFrame(std::string &out, Opcode opcode, std::string_view payload, bool mask, std::uint32_t maskKey)
{
    const std::size_t len = payload.size();
    unsigned char header[14];
    std::size_t h = 0;
    header[h++] = static_cast<unsigned char>(0x80u | static_cast<unsigned>(opcode));
    const unsigned char maskBit = mask ? 0x80u : 0x00u;
    if (len < 126) {
        header[h++] = static_cast<unsigned char>(maskBit | len);
    } else if (len <= 0xFFFF) {
        header[h++] = static_cast<unsigned char>(maskBit | 126u);
        header[h++] = static_cast<unsigned char>(len >> 8);
        header[h++] = static_cast<unsigned char>(len & 0xFF);
    } else {
        header[h++] = static_cast<unsigned char>(maskBit | 127u);
        for (int i = 7; i >= 0; --i)
            header[h++] = static_cast<unsigned char>((static_cast<std::uint64_t>(len) >> (8 * i)) & 0xFF);
    }
    if (mask) {
        std::memcpy(header + h, &maskKey, 4);
        h += 4;
    }
    const std::size_t start = out.size();
    out.resize(start + h + len);
    char *dst = out.data() + start;
    std::memcpy(dst, header, h);
    dst += h;
    if (!mask) {
        std::memcpy(dst, payload.data(), len);
        return;
    }
    // The key applies byte-wise in memory order, so XOR-ing whole words with
    // the key as it lies in memory is the same operation, four bytes at once.
    std::size_t i = 0;
    const std::uint64_t key64 = (static_cast<std::uint64_t>(maskKey) << 32) | maskKey;
    for (; i + 8 <= len; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, payload.data() + i, 8);
        w ^= key64;
        std::memcpy(dst + i, &w, 8);
    }
    unsigned char key[4];
    std::memcpy(key, &maskKey, 4);
    for (; i < len; ++i)
        dst[i] = static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i & 3]);
}

std::optional<Frame> parseFrame(char *buf, std::size_t len, std::size_t &consumed, bool &malformed,
                                std::size_t maxPayload)
{
    malformed = false;
    if (len < 2)
        return std::nullopt;
    const auto *u = reinterpret_cast<const unsigned char *>(buf);
    if (u[0] & 0x70u) {
        malformed = true;
        return std::nullopt;
    }
    Frame f;
    f.fin = (u[0] & 0x80u) != 0;
    f.opcode = static_cast<Opcode>(u[0] & 0x0Fu);
    const bool masked = (u[1] & 0x80u) != 0;
    std::uint64_t plen = u[1] & 0x7Fu;
    std::size_t pos = 2;
    if (plen == 126) {
        if (len < 4)
            return std::nullopt;
        plen = (static_cast<std::uint64_t>(u[2]) << 8) | u[3];
        pos = 4;
    } else if (plen == 127) {
        if (len < 10)
            return std::nullopt;
        plen = 0;
        for (int i = 0; i < 8; ++i)
            plen = (plen << 8) | u[2 + i];
        pos = 10;
    }
    if (plen > maxPayload) {
        malformed = true;
        return std::nullopt;
    }
    unsigned char key[4] = {0, 0, 0, 0};
    if (masked) {
        if (len < pos + 4)
            return std::nullopt;
        std::memcpy(key, buf + pos, 4);
        pos += 4;
    }
    if (len < pos + plen)
        return std::nullopt;
    char *p = buf + pos;
    if (masked) {
        for (std::size_t i = 0; i < plen; ++i)
            p[i] = static_cast<char>(static_cast<unsigned char>(p[i]) ^ key[i & 3]);
    }
    f.payload = std::string_view(p, static_cast<std::size_t>(plen));
    consumed = pos + static_cast<std::size_t>(plen);
    return f;
}

namespace {

// SHA-1 (FIPS 180-1); only used for the upgrade accept key of the built-in
// trivial relay, never for anything that needs to be secure.
std::array<unsigned char, 20> sha1(std::string_view data)
{
    std::uint32_t h0 = 0x67452301, h1 = 0xEFCDAB89, h2 = 0x98BADCFE, h3 = 0x10325476, h4 = 0xC3D2E1F0;
    std::string msg(data);
    const std::uint64_t bitLen = static_cast<std::uint64_t>(data.size()) * 8;
    msg.push_back(static_cast<char>(0x80));
    while (msg.size() % 64 != 56)
        msg.push_back('\0');
    for (int i = 7; i >= 0; --i)
        msg.push_back(static_cast<char>((bitLen >> (8 * i)) & 0xFF));
    auto rol = [](std::uint32_t v, int n) { return (v << n) | (v >> (32 - n)); };
    for (std::size_t off = 0; off < msg.size(); off += 64) {
        std::uint32_t w[80];
        for (int i = 0; i < 16; ++i) {
            const auto *b = reinterpret_cast<const unsigned char *>(msg.data() + off + 4 * static_cast<std::size_t>(i));
            w[i] = (static_cast<std::uint32_t>(b[0]) << 24) | (static_cast<std::uint32_t>(b[1]) << 16)
                 | (static_cast<std::uint32_t>(b[2]) << 8) | b[3];
        }
        for (int i = 16; i < 80; ++i)
            w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        std::uint32_t a = h0, b = h1, c = h2, d = h3, e = h4;
        for (int i = 0; i < 80; ++i) {
            std::uint32_t f = 0, k = 0;
            if (i < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            } else if (i < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            } else if (i < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            } else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }
            const std::uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d;
            d = c;
            c = rol(b, 30);
            b = a;
            a = t;
        }
        h0 += a;
        h1 += b;
        h2 += c;
        h3 += d;
        h4 += e;
    }
    std::array<unsigned char, 20> out{};
    const std::uint32_t hs[5] = {h0, h1, h2, h3, h4};
    for (int i = 0; i < 5; ++i)
        for (int j = 0; j < 4; ++j)
            out[static_cast<std::size_t>(4 * i + j)] = static_cast<unsigned char>((hs[i] >> (24 - 8 * j)) & 0xFF);
    return out;
}

std::string base64(const unsigned char *data, std::size_t len)
{
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < len; i += 3) {
        const std::uint32_t n = (static_cast<std::uint32_t>(data[i]) << 16)
                              | (i + 1 < len ? static_cast<std::uint32_t>(data[i + 1]) << 8 : 0)
                              | (i + 2 < len ? data[i + 2] : 0);
        out.push_back(kAlphabet[(n >> 18) & 63]);
        out.push_back(kAlphabet[(n >> 12) & 63]);
        out.push_back(i + 1 < len ? kAlphabet[(n >> 6) & 63] : '=');
        out.push_back(i + 2 < len ? kAlphabet[n & 63] : '=');
    }
    return out;
}

std::size_t findValueStart(std::string_view json, std::string_view quotedKey)
{
    std::size_t pos = json.find(quotedKey);
    if (pos == std::string_view::npos)
        return pos;
    pos += quotedKey.size();
    while (pos < json.size() && (json[pos] == ' ' || json[pos] == ':' || json[pos] == '\t'))
        ++pos;
    return pos < json.size() ? pos : std::string_view::npos;
}

} // namespace

std::string websocketAccept(std::string_view key)
{
    std::string s(key);
    s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    const auto digest = sha1(s);
    return base64(digest.data(), digest.size());
}

std::string_view jsonStringField(std::string_view json, std::string_view quotedKey)
{
    const std::size_t pos = findValueStart(json, quotedKey);
    if (pos == std::string_view::npos || json[pos] != '"')
        return {};
    const std::size_t end = json.find('"', pos + 1);
    if (end == std::string_view::npos)
        return {};
    return json.substr(pos + 1, end - pos - 1);
}

std::optional<double> jsonNumberField(std::string_view json, std::string_view quotedKey)
{
    const std::size_t pos = findValueStart(json, quotedKey);
    if (pos == std::string_view::npos)
        return std::nullopt;
    // Copy the token so strtod cannot read past the frame.
    char tmp[40];
    std::size_t n = 0;
    while (pos + n < json.size() && n + 1 < sizeof tmp) {
        const char c = json[pos + n];
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
            break;
        tmp[n] = c;
        ++n;
    }
    if (n == 0)
        return std::nullopt;
    tmp[n] = '\0';
    char *end = nullptr;
    const double v = std::strtod(tmp, &end);
    if (end == tmp)
        return std::nullopt;
    return v;
}

} // namespace medrelay::bench
