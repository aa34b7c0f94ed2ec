#pragma once
// The data source every medrelay server offers: AdminClient polls /health,
// /stats and /admin/events on a timer; each /stats answer is a whole
// snapshot of the rooms. Connection state, backoff and the event cursor stay
// in AdminClient; this class only turns its answers into the DataSource's
// terms.

#include "controller/DataSource.h"

#include <QPointer>

namespace medrelay::console {

class AdminClient;

class PollingSource final : public DataSource
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PollingSource)

public:
    // `client` is not owned and must outlive this source.
    explicit PollingSource(AdminClient *client, QObject *parent = nullptr);

    [[nodiscard]] QString description() const override;
    void start() override;
    void stop() override;
    void refreshNow() override;

private:
    void onHealth(const adminapi::Health &health);
    void onStats(const adminapi::Stats &stats);

    AdminClient *m_client = nullptr;
    ServerFigures m_figures;
    bool m_active = false; // AdminClient's signals count only between start() and stop()
};

} // namespace medrelay::console
