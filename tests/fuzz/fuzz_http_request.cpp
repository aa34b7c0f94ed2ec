// Fuzzes the HTTP request head parser (server/http/HttpRequestParser) the way
// the listener uses it: find the end of the head, then parse that much within
// the default limits, and once more with tight limits. Invariants: nothing
// crashes, and a parsed request respects the limits it was parsed with.

#include "http/HttpRequestParser.h"

#include <cstddef>
#include <cstdint>

using namespace medrelay::server;

namespace {

void parseWith(QByteArrayView head, const HttpParseLimits &limits)
{
    const auto result = parseRequestHead(head, limits);
    if (const auto *req = std::get_if<HttpRequest>(&result)) {
        if (req->rawTarget.size() > limits.maxTargetBytes || req->headBytes > limits.maxHeadBytes
            || req->headers.size() > limits.maxHeaders || req->method.isEmpty())
            __builtin_trap();
    } else {
        const auto &err = std::get<HttpParseError>(result);
        if (err.status < 400 || err.status > 599 || err.message.isEmpty())
            __builtin_trap();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArrayView input(reinterpret_cast<const char *>(data), qsizetype(size));
    const int end = findHeadEnd(input);
    if (end > int(size))
        __builtin_trap();
    const QByteArrayView head = end < 0 ? input : input.first(end);
    parseWith(head, HttpParseLimits{});
    parseWith(head, HttpParseLimits{256, 4, 64});
    return 0;
}
