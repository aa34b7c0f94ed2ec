#pragma once
// The console's command line: where to connect, and the headless mode
// (--screenshot/--quit-after) used by scripts, documentation and tests.
// Parsed without exiting so that it can be unit-tested.

#include <QProcessEnvironment>
#include <QSize>
#include <QStringList>
#include <QUrl>

#include <optional>

namespace medrelay::console {

struct LaunchOptions
{
    enum class Palette { System, Light, Dark };

    QUrl server;                        // empty: ask in the connect dialog
    QString token;                      // --token, else $MEDRELAY_ADMIN_TOKEN
    bool tokenFromEnvironment = false;
    QString screenshot;                 // write a PNG of the main window, then exit
    std::optional<double> quitAfter;    // seconds
    int pollIntervalMs = 1000;
    Palette palette = Palette::System;
    QSize windowSize;                   // --size WxH; invalid: restored or default size
    QString selectRoom;                 // --select-room: show this room's participants once it appears
    QString watchRoom;                  // --watch: open this room's consultation view once it appears
    int waitingAlertMinutes = 0;        // --waiting-alert: 0 keeps the remembered (or default) limit
    bool showHelp = false;
    bool showVersion = false;
    QString helpText;
    QString error;                      // non-empty: the command line was wrong

    [[nodiscard]] bool headless() const { return !screenshot.isEmpty() || quitAfter.has_value(); }
};

[[nodiscard]] LaunchOptions parseLaunchOptions(const QStringList &arguments,
                                               const QProcessEnvironment &environment);

// "host:9003" -> http://host:9003; nullopt unless http(s) with a host.
[[nodiscard]] std::optional<QUrl> parseServerUrl(const QString &text);

} // namespace medrelay::console
