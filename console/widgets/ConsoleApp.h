#pragma once
// Puts the console together for main(): settings, client, window, palette,
// and the unattended mode when asked for. Kept out of main.cpp so that main
// stays a few lines.

#include "core/LaunchOptions.h"

class QApplication;

namespace medrelay::console {

void applyPalette(QApplication &app, LaunchOptions::Palette palette);

// Runs the event loop; returns the process exit code.
[[nodiscard]] int runConsole(QApplication &app, const LaunchOptions &options);

} // namespace medrelay::console
