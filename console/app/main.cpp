// medrelay-console: the administrator's desktop tool for a medrelay server.
#include "core/LaunchOptions.h"
#include "widgets/ConsoleApp.h"

#include <medrelay/Version.h>

#include <QApplication>

#include <cstdio>

int main(int argc, char *argv[])
{
    // The command line is read before any GUI exists, so --help, --version and
    // a wrong option are answered on a machine without a display.
    QStringList arguments;
    arguments.reserve(argc);
    for (int i = 0; i < argc; ++i)
        arguments.append(QString::fromLocal8Bit(argv[i]));
    const auto options = medrelay::console::parseLaunchOptions(arguments, QProcessEnvironment::systemEnvironment());
    if (!options.error.isEmpty()) {
        std::fprintf(stderr, "medrelay-console: %s\n%s", qUtf8Printable(options.error), qUtf8Printable(options.helpText));
        return 64;
    }
    if (options.showHelp) {
        std::fputs(qUtf8Printable(options.helpText), stdout);
        return 0;
    }
    if (options.showVersion) {
        std::printf("medrelay-console %s\n", MEDRELAY_VERSION);
        return 0;
    }

    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("medrelay"));
    QApplication::setApplicationName(QStringLiteral("medrelay-console"));
    QApplication::setApplicationDisplayName(QStringLiteral("medrelay console"));
    QApplication::setApplicationVersion(QStringLiteral(MEDRELAY_VERSION));
    return medrelay::console::runConsole(app, options);
}
