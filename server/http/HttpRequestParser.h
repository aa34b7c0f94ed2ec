#pragma once
// Parses an HTTP/1.1 request head with Debian's http-parser (strict mode),
// within fixed bounds: head size, header count and length, target length.

#include "http/HttpRequest.h"

#include <QByteArrayView>
#include <QString>

#include <optional>
#include <variant>

namespace medrelay::server {

struct HttpParseLimits
{
    int maxHeadBytes = 8 * 1024;
    int maxHeaders = 64;
    int maxTargetBytes = 4096;
};

struct HttpParseError
{
    int status = 400;
    QString message;
};

// Finds the end of the head ("\r\n\r\n"); returns its length including the
// blank line, or -1 when it is not complete yet.
[[nodiscard]] int findHeadEnd(QByteArrayView data);

// Parses a complete head (as returned by findHeadEnd). The body is not read.
[[nodiscard]] std::variant<HttpRequest, HttpParseError> parseRequestHead(QByteArrayView head,
                                                                         const HttpParseLimits &limits);

} // namespace medrelay::server
