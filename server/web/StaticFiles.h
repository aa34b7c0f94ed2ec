#pragma once
// Serves the files of one directory (the web root: the demo consultation
// page and the browser client library) over GET and HEAD. Safe by
// construction rather than by filtering: a request path is accepted only as
// segments of [A-Za-z0-9._-] that do not start with a dot (so no "..", no
// hidden files, no NUL, no backslash, no empty segment, whatever the percent
// encoding was); the resolved file must lie inside the root after symlinks
// are resolved, be a regular file, have a known type, and be at most
// `maxFileBytes`. Answers carry an ETag (304 on If-None-Match) and
// "Cache-Control: no-cache", HTML a strict Content-Security-Policy.

#include "http/HttpRequest.h"

#include <QString>

#include <optional>

namespace medrelay::server::web {

class StaticFiles final
{
public:
    StaticFiles(const QString &root, qint64 maxFileBytes);

    // The root as served (canonical); empty when it is not a directory.
    [[nodiscard]] const QString &root() const { return m_root; }
    // The answer for a file of the root, or nullopt when no file answers
    // this path (the caller's 404).
    [[nodiscard]] std::optional<HttpResponse> serve(const HttpRequest &request) const;

    // The path relative to the root that `path` (decoded, from the request)
    // names, or nullopt when it is not an acceptable path. "/" is index.html.
    [[nodiscard]] static std::optional<QString> relativePath(const QString &path);
    // The Content-Type for a file name, or empty for types not served.
    [[nodiscard]] static QByteArray contentType(const QString &fileName);

private:
    QString m_root;
    qint64 m_maxFileBytes = 0;
};

} // namespace medrelay::server::web
