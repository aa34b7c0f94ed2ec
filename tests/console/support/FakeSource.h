#pragma once
// A DataSource the test drives by hand: it emits whatever snapshot or change
// the test asks for, in whatever state. It stands for the event stream a
// server will offer later, and shows that the controller needs nothing more
// than the DataSource interface.

#include "controller/DataSource.h"

namespace medrelay::consoletest {

class FakeSource final : public console::DataSource
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FakeSource)

public:
    explicit FakeSource(QObject *parent = nullptr)
        : DataSource(parent)
    {
    }

    [[nodiscard]] QString description() const override { return QStringLiteral("a test feed"); }
    void start() override
    {
        ++starts;
        setState(console::ConnectionState::Connecting);
    }
    void stop() override
    {
        ++stops;
        setState(console::ConnectionState::Disconnected);
    }
    void refreshNow() override { ++refreshes; }

    void set(console::ConnectionState state, const QString &reason = {}) { setState(state, reason); }

    int starts = 0;
    int stops = 0;
    int refreshes = 0;
};

} // namespace medrelay::consoletest
