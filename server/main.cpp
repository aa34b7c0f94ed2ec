// medrelay-server: parses configuration, sets up logging, and runs ServerApp.

#include "app/ServerApp.h"
#include "app/SignalWatcher.h"
#include "config/ConfigLoader.h"
#include "security/AuditLog.h"

#include <medrelay/Version.h>

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QTextStream>

#include <cstdio>

using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

void configureLogging(const ServerConfig &config)
{
    qSetMessagePattern(u"%{time yyyy-MM-ddThh:mm:ss.zzz} %{if-debug}debug%{endif}%{if-info}info%{endif}"
                       "%{if-warning}warning%{endif}%{if-critical}error%{endif}%{if-fatal}fatal%{endif} "
                       "%{category}: %{message}"_s);
    QString rules;
    if (config.debugLogging)
        rules = u"medrelay.*.debug=true\n"_s;
    else if (config.mode == Mode::Production)
        // Quiet: lifecycle and admin actions at info, the rest warnings only.
        rules = u"medrelay.*.debug=false\nmedrelay.*.info=false\nmedrelay.server.info=true\nmedrelay.admin.info=true\n"
                "medrelay.sweep.info=true\n"_s;
    else
        rules = u"medrelay.*.debug=false\n"_s;
    // QT_LOGGING_RULES, when set, still takes precedence over these.
    QLoggingCategory::setFilterRules(rules);
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(u"medrelay-server"_s);
    QCoreApplication::setApplicationVersion(QString::fromLatin1(MEDRELAY_VERSION));

    QTextStream out(stdout);
    QTextStream err(stderr);
    auto loaded = ConfigLoader::load(QCoreApplication::arguments(), QProcessEnvironment::systemEnvironment());
    if (auto *e = std::get_if<ConfigError>(&loaded)) {
        err << "medrelay-server: invalid configuration: " << e->message << "\n";
        return 2;
    }
    const LoadedConfig &lc = std::get<LoadedConfig>(loaded);
    switch (lc.action) {
    case ConfigAction::ShowHelp:
        out << ConfigLoader::helpText();
        return 0;
    case ConfigAction::ShowVersion:
        out << "medrelay-server " << MEDRELAY_VERSION << "\n";
        return 0;
    case ConfigAction::VerifyAudit:
        return medrelay::security::runVerifyAuditCommand(lc.actionArgument, out);
    case ConfigAction::Run:
        break;
    }

    configureLogging(lc.config);
    ServerApp server(lc.config);
    if (const QString e = server.start(); !e.isEmpty()) {
        err << "medrelay-server: " << e << "\n";
        return 1;
    }
    out << "medrelay-server listening on " << lc.config.host << ':' << server.port() << Qt::endl;

    SignalWatcher signalWatcher;
    QObject::connect(&signalWatcher, &SignalWatcher::terminationRequested, &server, [&server](int, int count) {
        if (count > 1) {
            std::fputs("medrelay-server: second signal, exiting now\n", stderr);
            std::_Exit(1);
        }
        server.beginDrain();
    });
    QObject::connect(&signalWatcher, &SignalWatcher::reloadRequested, &server, [&server] { server.reloadTls(); });
    QObject::connect(&server, &ServerApp::finished, &app, [](int code) { QCoreApplication::exit(code); });
    return QCoreApplication::exec();
}
