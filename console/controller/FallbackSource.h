#pragma once
// The console's usual source: the admin event stream (StreamSource) when the
// server offers one, polling (PollingSource) when it does not: an older
// server answers /admin/ws with 404, and a draining one refuses new streams
// with 503. Only the source in use speaks; the other is stopped, and what is
// shown stays until the next one's data replaces it (in place, row by row).
// While polling, a server that restarted or came back after being
// unreachable is offered the stream again: it may have been upgraded.

#include "controller/DataSource.h"

namespace medrelay::console {

class AdminClient;
class PollingSource;
class StreamSource;

class FallbackSource final : public DataSource
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FallbackSource)

public:
    // `client` is not owned and must outlive this source.
    explicit FallbackSource(AdminClient *client, QObject *parent = nullptr);

    [[nodiscard]] QString description() const override;
    void start() override;
    void stop() override;
    void refreshNow() override;

    [[nodiscard]] bool isStreaming() const;
    [[nodiscard]] StreamSource *stream() const { return m_stream; }
    [[nodiscard]] PollingSource *polling() const { return m_polling; }

private:
    void forward(DataSource *from);
    void use(DataSource *source);
    void onStreamUnavailable(int httpStatus, const QString &reason);
    void onPollingState(ConnectionState state);

    StreamSource *m_stream = nullptr;
    PollingSource *m_polling = nullptr;
    DataSource *m_current = nullptr;
    QString m_fallbackReason;
    ConnectionState m_lastPollingState = ConnectionState::Disconnected;
    bool m_active = false;
};

} // namespace medrelay::console
