// medrelay-server: parses configuration, sets up logging, and runs ServerApp
// under whatever manages the process: a terminal, systemd (Type=notify), the
// Windows service control manager (--service) or launchd (signals).

#include "app/ServerApp.h"
#include "app/SignalWatcher.h"
#include "config/ConfigLoader.h"
#include "events/EventLog.h"
#include "logging/EventLogger.h"
#include "logging/LogFields.h"
#include "logging/LogHandler.h"
#include "security/AuditLog.h"
#include "service/ServiceController.h"
#include "service/SystemdNotifier.h"
#include "web/WebRoutes.h"
#ifdef Q_OS_WIN
#include "service/WindowsServiceHost.h"
#endif
#include "security/AuditVerifier.h"

#include <medrelay/BuildInfo.h>
#include <medrelay/Version.h>

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QTextStream>

#include <cstdio>
#include <memory>

using namespace medrelay;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

QString versionText()
{
    const QString buildType = QStringLiteral(MEDRELAY_BUILD_TYPE);
    const bool systemd = logging::journalSupported() && service::SystemdNotifier::supported();
    return u"medrelay-server %1\n"
           "commit: %2\n"
           "build type: %3\n"
           "compiler: %4\n"
           "Qt: %5 (built with %6)\n"
           "systemd: %7\n"_s.arg(QLatin1StringView(MEDRELAY_VERSION), QLatin1StringView(MEDRELAY_BUILD_COMMIT),
                                 buildType.isEmpty() ? u"none"_s : buildType,
                                 QLatin1StringView(MEDRELAY_BUILD_COMPILER), QLatin1StringView(qVersion()),
                                 QLatin1StringView(QT_VERSION_STR),
                                 systemd ? u"yes (readiness and watchdog notification, journal)"_s : u"no"_s);
}

logging::Sink sinkFor(LogFormat format)
{
    switch (format) {
    case LogFormat::Auto:
        return logging::automaticSink();
    case LogFormat::Text:
        return logging::Sink::Text;
    case LogFormat::Json:
        return logging::Sink::Json;
    case LogFormat::Journal:
        return logging::Sink::Journal;
    }
    return logging::Sink::Text;
}

void configureLogging(const ServerConfig &config)
{
    qSetMessagePattern(u"%{time yyyy-MM-ddThh:mm:ss.zzz} %{if-debug}debug%{endif}%{if-info}info%{endif}"
                       "%{if-warning}warning%{endif}%{if-critical}error%{endif}%{if-fatal}fatal%{endif} "
                       "%{category}: %{message}"_s);
    const logging::Sink sink = logging::installMessageHandler(sinkFor(config.logFormat), "medrelay-server");
    QString rules;
    if (config.debugLogging)
        rules = u"medrelay.*.debug=true\n"_s;
    else if (config.mode == Mode::Production)
        // Quiet: lifecycle and admin actions at info, the rest warnings only.
        rules = u"medrelay.*.debug=false\nmedrelay.*.info=false\nmedrelay.server.info=true\nmedrelay.admin.info=true\n"
                "medrelay.sweep.info=true\n"_s;
    else
        rules = u"medrelay.*.debug=false\n"_s;
    // One record per server event (ids as fields) where fields are kept;
    // the text sink already has the same facts in the rooms/auth lines.
    rules += sink == logging::Sink::Text ? u"medrelay.events.info=false\n"_s : u"medrelay.events.info=true\n"_s;
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
    QStringList arguments = QCoreApplication::arguments();
#ifdef Q_OS_WIN
    // Only the service's registered command line carries --service.
    const bool asWindowsService = arguments.removeAll(u"--service"_s) > 0;
#endif
    auto loaded = ConfigLoader::load(arguments, QProcessEnvironment::systemEnvironment());
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
        out << versionText();
        return 0;
    case ConfigAction::VerifyAudit:
        return medrelay::security::runVerifyAuditCommand(lc.verifyPaths, lc.verifyKeyFiles, lc.verifyCheckpointFiles,
                                                         out);
    case ConfigAction::Run:
        break;
    }

    configureLogging(lc.config);
    ServerApp server(lc.config);
    logging::EventLogger eventLogger;
    QObject::connect(&server.events(), &EventLog::added, &eventLogger, &logging::EventLogger::log);

    service::ServiceController controller(server);
    service::SystemdNotifier systemd;
    controller.addReporter(&systemd);
#ifdef Q_OS_WIN
    std::unique_ptr<service::WindowsServiceHost> windowsService;
    if (asWindowsService) {
        windowsService = std::make_unique<service::WindowsServiceHost>(controller);
        if (const QString e = windowsService->connectToManager(); !e.isEmpty()) {
            err << "medrelay-server: " << e << "\n";
            return 1;
        }
        controller.addReporter(windowsService.get());
    }
#endif
    if (const QString e = controller.start(); !e.isEmpty()) {
        err << "medrelay-server: " << e << "\n";
        return 1;
    }
    out << "medrelay-server listening on " << lc.config.host << ':' << server.port() << Qt::endl;
    if (!lc.config.webRoot.isEmpty())
        out << "demo consultation page: " << web::demoPageUrl(lc.config, server.port()) << Qt::endl;

    SignalWatcher signalWatcher;
    QObject::connect(&signalWatcher, &SignalWatcher::terminationRequested, &controller, [&controller](int, int count) {
        if (count > 1) {
            std::fputs("medrelay-server: second signal, exiting now\n", stderr);
            std::_Exit(1);
        }
        const logging::LogScope scope{{logging::Field::Event, u"stop_requested"_s}};
        controller.control(service::ServiceControl::Stop);
    });
    QObject::connect(&signalWatcher, &SignalWatcher::reloadRequested, &server, [&server] { server.reloadTls(); });
    QObject::connect(&controller, &service::ServiceController::finished, &app,
                     [](int code) { QCoreApplication::exit(code); });
    return QCoreApplication::exec();
}
