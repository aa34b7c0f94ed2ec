#include "widgets/ConsoleApp.h"

#include "controller/ConsoleController.h"
#include "core/AdminClient.h"
#include "core/ConsoleSettings.h"
#include "core/RoomsModel.h"
#include "widgets/HeadlessRun.h"
#include "widgets/MainWindow.h"

#include <QApplication>
#include <QPalette>
#include <QSettings>
#include <QStyle>
#include <QStyleFactory>
#include <QTemporaryDir>
#include <QTimer>

#include <memory>

namespace medrelay::console {

using namespace Qt::StringLiterals;

void applyPalette(QApplication &app, LaunchOptions::Palette palette)
{
    if (palette == LaunchOptions::Palette::System)
        return; // the platform theme's palette, light or dark as the desktop is
    app.setStyle(QStyleFactory::create(u"Fusion"_s));
    if (palette == LaunchOptions::Palette::Light) {
        app.setPalette(app.style()->standardPalette());
        return;
    }
    // An explicit dark palette, for desktops whose theme Qt 6.4 cannot read.
    QPalette p;
    const QColor window(0x2d, 0x2f, 0x33);
    const QColor base(0x1f, 0x21, 0x24);
    const QColor text(0xe8, 0xea, 0xed);
    const QColor disabled(0x80, 0x86, 0x8b);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, QColor(0x27, 0x29, 0x2d));
    p.setColor(QPalette::ToolTipBase, window);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, QColor(0x9a, 0xa0, 0xa6));
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(0xff, 0x6b, 0x6b));
    p.setColor(QPalette::Highlight, QColor(0x3b, 0x6e, 0xc4));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, QColor(0x8a, 0xb4, 0xf8));
    p.setColor(QPalette::Light, QColor(0x45, 0x48, 0x4d));
    p.setColor(QPalette::Midlight, QColor(0x3a, 0x3d, 0x41));
    p.setColor(QPalette::Mid, QColor(0x26, 0x28, 0x2b));
    p.setColor(QPalette::Dark, QColor(0x18, 0x19, 0x1b));
    p.setColor(QPalette::Shadow, Qt::black);
    for (const auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, disabled);
    app.setPalette(p);
}

int runConsole(QApplication &app, const LaunchOptions &options)
{
    applyPalette(app, options.palette);

    // Unattended runs neither read nor write the user's settings: they get a
    // throw-away file, so the window looks and behaves as it does for a person.
    QTemporaryDir scratch;
    auto qsettings = options.headless()
                         ? std::make_unique<QSettings>(scratch.filePath(u"console.ini"_s), QSettings::IniFormat)
                         : std::make_unique<QSettings>();
    auto settings = std::make_unique<ConsoleSettings>(qsettings.get());

    AdminClient client;
    client.setPollInterval(std::chrono::milliseconds(options.pollIntervalMs));
    ConsoleController controller(&client, settings.get());
    if (options.waitingAlertMinutes > 0)
        controller.setWaitingAlertSeconds(static_cast<qint64>(options.waitingAlertMinutes) * 60);
    MainWindow window(&controller);
    if (!options.headless())
        window.restoreLayout();
    else // nobody to answer: HeadlessRun reports a missing token and exits
        QObject::disconnect(&controller, &ConsoleController::tokenRequested, &window, nullptr);
    if (options.windowSize.isValid())
        window.resize(options.windowSize);
    window.show();

    std::unique_ptr<HeadlessRun> headless;
    if (options.headless()) {
        headless = std::make_unique<HeadlessRun>(&controller, &window, options.quitAfter.value_or(0),
                                                 options.screenshot);
        QObject::connect(headless.get(), &HeadlessRun::finished, &app, [&app](int code) { app.exit(code); });
        headless->start();
    }

    if (!options.selectRoom.isEmpty()) {
        auto selected = std::make_shared<QMetaObject::Connection>();
        *selected = QObject::connect(&controller, &ConsoleController::updated, &window, [&controller, selected, &options] {
            if (controller.selectRoom(options.selectRoom))
                QObject::disconnect(*selected);
        });
    }

    if (!options.watchRoom.isEmpty()) {
        auto watched = std::make_shared<QMetaObject::Connection>();
        *watched = QObject::connect(&controller, &ConsoleController::updated, &window, [&controller, watched, &options] {
            if (controller.rooms()->room(options.watchRoom) && controller.openConsultation(options.watchRoom))
                QObject::disconnect(*watched);
        });
    }

    if (!options.server.isEmpty()) {
        QString token = options.token;
        if (token.isEmpty() && !options.headless())
            token = settings->rememberedToken(options.server).value_or(QString());
        controller.connectTo(options.server, token);
    } else if (!options.headless()) {
        QTimer::singleShot(0, &window, &MainWindow::showConnectDialog);
    }
    return app.exec();
}

} // namespace medrelay::console
