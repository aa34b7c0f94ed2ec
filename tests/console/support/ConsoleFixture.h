#pragma once
// The console as the IT person runs it, for the tests against a real
// server: the client, the controller and the main window, shown, polling
// and refreshing five times a second so the tests do not spend their time
// waiting for the next poll. And a room client that has joined.

#include "ServerProcess.h"
#include "controller/ConsoleController.h"
#include "controller/Consultation.h"
#include "controller/FallbackSource.h"
#include "core/AdminClient.h"
#include "widgets/MainWindow.h"

#include <QApplication>

#include <chrono>
#include <memory>

namespace medrelay::consoletest {

struct Console
{
    explicit Console(console::ConsoleSettings *settings = nullptr)
        : controller(&client, settings), window(&controller)
    {
        using namespace std::chrono_literals;
        client.setPollInterval(200ms);
        client.setBackoffLimits(200ms, 1000ms);
        controller.consultation()->setRefreshInterval(200ms);
        window.resize(1280, 800);
        window.show();
        QApplication::setActiveWindow(&window);
    }
    [[nodiscard]] console::FallbackSource *source() const
    {
        return qobject_cast<console::FallbackSource *>(controller.source());
    }
    console::AdminClient client;
    console::ConsoleController controller;
    console::MainWindow window;
};

// A client of `server` that has joined `room`; null when it could not.
inline std::unique_ptr<RoomClient> joined(const ServerProcess &server, const QString &room, qint64 appointment,
                                          qint64 user, const QString &name, const QString &role)
{
    auto c = std::make_unique<RoomClient>();
    if (!c->open(server.wsUrl()) || !c->join(room, appointment, user, name, role))
        return nullptr;
    return c;
}

} // namespace medrelay::consoletest
