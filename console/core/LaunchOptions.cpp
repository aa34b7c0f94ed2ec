#include "core/LaunchOptions.h"

#include <QCommandLineParser>

namespace medrelay::console {

using namespace Qt::StringLiterals;

std::optional<QUrl> parseServerUrl(const QString &text)
{
    const QString trimmed = text.trimmed();
    if (trimmed.isEmpty())
        return std::nullopt;
    QUrl url = trimmed.contains("://"_L1) ? QUrl(trimmed, QUrl::StrictMode) : QUrl(u"http://"_s + trimmed);
    if (!url.isValid() || url.host().isEmpty())
        return std::nullopt;
    if (url.scheme() != "http"_L1 && url.scheme() != "https"_L1)
        return std::nullopt;
    return url;
}

LaunchOptions parseLaunchOptions(const QStringList &arguments, const QProcessEnvironment &environment)
{
    LaunchOptions options;
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Administration console for a medrelay server: live rooms, participants, activity and events."_s);
    const QCommandLineOption help({u"h"_s, u"help"_s}, u"Show this help and exit."_s);
    const QCommandLineOption version({u"v"_s, u"version"_s}, u"Show the version and exit."_s);
    const QCommandLineOption server(u"server"_s, u"Connect to URL at once (http:// or https://)."_s, u"URL"_s);
    const QCommandLineOption token(
        u"token"_s, u"Admin token (visible to other local users in the process list; prefer MEDRELAY_ADMIN_TOKEN)."_s,
        u"T"_s);
    const QCommandLineOption screenshot(
        u"screenshot"_s, u"Write a PNG of the main window to FILE when --quit-after elapses, then exit."_s,
        u"FILE"_s);
    const QCommandLineOption quitAfter(
        u"quit-after"_s, u"Exit after SECONDS: 0 when connected, non-zero when not (reason on stderr)."_s,
        u"SECONDS"_s);
    const QCommandLineOption poll(u"poll-interval"_s, u"Refresh every MS milliseconds (default 1000)."_s, u"MS"_s);
    const QCommandLineOption palette(u"palette"_s, u"Colours: system (default), light or dark."_s, u"NAME"_s);
    const QCommandLineOption size(u"size"_s, u"Window size, e.g. 1280x800."_s, u"WxH"_s);
    const QCommandLineOption selectRoom(u"select-room"_s, u"Select room ID as soon as it appears."_s, u"ID"_s);
    const QCommandLineOption watch(u"watch"_s, u"Open room ID's consultation view as soon as it appears."_s, u"ID"_s);
    const QCommandLineOption waitingAlert(
        u"waiting-alert"_s, u"Alert when a guest has waited longer than MINUTES to be admitted (default 5)."_s,
        u"MINUTES"_s);
    parser.addOptions({help, version, server, token, screenshot, quitAfter, poll, palette, size, selectRoom, watch,
                       waitingAlert});
    // Without an application object (main() parses before creating one) Qt
    // names the program "<executable_name>".
    options.helpText = parser.helpText().replace(u"<executable_name>"_s, u"medrelay-console"_s);

    if (!parser.parse(arguments)) {
        options.error = parser.errorText();
        return options;
    }
    if (!parser.positionalArguments().isEmpty()) {
        options.error = u"unexpected argument: %1"_s.arg(parser.positionalArguments().constFirst());
        return options;
    }
    options.showHelp = parser.isSet(help);
    options.showVersion = parser.isSet(version);

    if (parser.isSet(server)) {
        const auto url = parseServerUrl(parser.value(server));
        if (!url) {
            options.error = u"--server needs an http:// or https:// URL, got \"%1\""_s.arg(parser.value(server));
            return options;
        }
        options.server = *url;
    }
    if (parser.isSet(token)) {
        options.token = parser.value(token);
    } else if (environment.contains(u"MEDRELAY_ADMIN_TOKEN"_s)) {
        options.token = environment.value(u"MEDRELAY_ADMIN_TOKEN"_s);
        options.tokenFromEnvironment = true;
    }
    if (parser.isSet(screenshot))
        options.screenshot = parser.value(screenshot);
    if (parser.isSet(quitAfter)) {
        bool ok = false;
        const double seconds = parser.value(quitAfter).toDouble(&ok);
        if (!ok || seconds < 0 || seconds > 86400) {
            options.error = u"--quit-after needs a number of seconds, got \"%1\""_s.arg(parser.value(quitAfter));
            return options;
        }
        options.quitAfter = seconds;
    }
    if (parser.isSet(poll)) {
        bool ok = false;
        const int ms = parser.value(poll).toInt(&ok);
        if (!ok || ms < 50 || ms > 60'000) {
            options.error = u"--poll-interval needs 50..60000 milliseconds, got \"%1\""_s.arg(parser.value(poll));
            return options;
        }
        options.pollIntervalMs = ms;
    }
    if (parser.isSet(palette)) {
        const QString name = parser.value(palette).toLower();
        if (name == "light"_L1)
            options.palette = LaunchOptions::Palette::Light;
        else if (name == "dark"_L1)
            options.palette = LaunchOptions::Palette::Dark;
        else if (name != "system"_L1) {
            options.error = u"--palette is system, light or dark, got \"%1\""_s.arg(name);
            return options;
        }
    }
    if (parser.isSet(size)) {
        const QStringList parts = parser.value(size).toLower().split(u'x');
        bool okW = false;
        bool okH = false;
        const int w = parts.size() == 2 ? parts.at(0).toInt(&okW) : 0;
        const int h = parts.size() == 2 ? parts.at(1).toInt(&okH) : 0;
        if (!okW || !okH || w < 320 || h < 240 || w > 8192 || h > 8192) {
            options.error = u"--size needs WIDTHxHEIGHT, e.g. 1280x800, got \"%1\""_s.arg(parser.value(size));
            return options;
        }
        options.windowSize = QSize(w, h);
    }
    if (parser.isSet(selectRoom))
        options.selectRoom = parser.value(selectRoom);
    if (parser.isSet(watch))
        options.watchRoom = parser.value(watch);
    if (parser.isSet(waitingAlert)) {
        bool ok = false;
        const int minutes = parser.value(waitingAlert).toInt(&ok);
        if (!ok || minutes < 1 || minutes > 24 * 60) {
            options.error =
                u"--waiting-alert needs 1..1440 minutes, got \"%1\""_s.arg(parser.value(waitingAlert));
            return options;
        }
        options.waitingAlertMinutes = minutes;
    }
    if (!options.screenshot.isEmpty() && options.server.isEmpty()) {
        options.error = u"--screenshot needs --server"_s;
        return options;
    }
    if (!options.screenshot.isEmpty() && !options.quitAfter)
        options.quitAfter = 3.0;
    return options;
}

} // namespace medrelay::console
