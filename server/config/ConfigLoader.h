#pragma once
// Builds a ServerConfig from, in increasing precedence: the built-in defaults
// of the mode, an INI file (--config), the environment (WS_PORT, WS_HOST,
// NODE_ENV/MEDRELAY_ENV, DEBUG, MEDRELAY_*), and the command line. Any invalid
// value stops loading with one line naming the setting.

#include "config/ServerConfig.h"

#include <QProcessEnvironment>
#include <QStringList>

#include <variant>

namespace medrelay::server {

struct ConfigError
{
    QString message; // one line, names the setting
};

// What the command line asked for besides running the server.
enum class ConfigAction { Run, ShowHelp, ShowVersion, VerifyAudit };

struct LoadedConfig
{
    ServerConfig config;
    ConfigAction action = ConfigAction::Run;
    // --verify-audit: the data directory or files, the keys, and checkpoint
    // copies (e.g. from the system log) to check them against.
    QStringList verifyPaths;
    QStringList verifyKeyFiles;
    QStringList verifyCheckpointFiles;
};

class ConfigLoader final
{
public:
    [[nodiscard]] static std::variant<LoadedConfig, ConfigError>
    load(const QStringList &arguments, const QProcessEnvironment &env);
    [[nodiscard]] static QString helpText();
};

} // namespace medrelay::server
