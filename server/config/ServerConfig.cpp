#include "config/ServerConfig.h"

namespace medrelay::server {

QString modeName(Mode mode)
{
    return mode == Mode::Production ? QStringLiteral("production") : QStringLiteral("development");
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
    }
    return c;
}

} // namespace medrelay::server
