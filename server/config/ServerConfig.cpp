#include "config/ServerConfig.h"

#include <QCoreApplication>
#include <QFileInfo>

namespace medrelay::server {

QString modeName(Mode mode)
{
    return mode == Mode::Production ? QStringLiteral("production") : QStringLiteral("development");
}

QString developmentWebRoot()
{
    // The source tree's copy while working on it, else the one installed
    // beside the executable (<prefix>/bin -> <prefix>/share/medrelay/web).
    QStringList candidates{QStringLiteral(MEDRELAY_SOURCE_WEB_ROOT)};
    if (QCoreApplication::instance())
        candidates.append(QCoreApplication::applicationDirPath() + QStringLiteral("/../share/medrelay/web"));
    for (const QString &dir : std::as_const(candidates)) {
        const QFileInfo index(dir + QStringLiteral("/index.html"));
        if (index.isFile())
            return QFileInfo(index.absolutePath()).canonicalFilePath();
    }
    return {};
}

ServerConfig defaultConfig(Mode mode)
{
    ServerConfig c;
    c.mode = mode;
    if (mode == Mode::Production) {
        c.host = QStringLiteral("0.0.0.0");
        c.pingIntervalMs = 30000;
        c.drainTimeoutMs = 20000;
        // A whole clinic may sit behind one NAT address: generous, not off.
        c.maxConnectionsPerAddress = 1000;
        c.dataDir = QStringLiteral("/var/lib/medrelay");
    } else {
        c.host = QStringLiteral("localhost");
        c.pingIntervalMs = 15000;
        c.drainTimeoutMs = 3000;
        c.maxConnectionsPerAddress = 0;
        c.debugLogging = false;
        c.dataDir = QStringLiteral("./medrelay-data");
        c.webRoot = developmentWebRoot();
    }
    return c;
}

} // namespace medrelay::server
