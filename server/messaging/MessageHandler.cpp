#include "messaging/MessageHandler.h"

#include "protocol/MessageParser.h"

#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcMessages, "medrelay.messages")

namespace medrelay::server {

using namespace Qt::StringLiterals;

MessageHandler::MessageHandler(Metrics &metrics, protocol::ValidationLimits limits, QObject *parent)
    : QObject(parent)
    , m_metrics(metrics)
    , m_limits(limits)
{}

void MessageHandler::handle(Connection *connection, const QByteArray &utf8)
{
    auto parsed = protocol::parseEnvelope(utf8);
    if (!parsed.ok()) {
        m_metrics.invalidIn(utf8.size());
        const auto &err = parsed.error();
        qCDebug(lcMessages) << "rejected frame from" << connection->connectionId() << protocol::wireName(err.code);
        connection->sendError(err.code, err.message, err.requestId);
        return;
    }
    const protocol::Envelope &envelope = parsed.value();
    m_metrics.messageIn(envelope.kind, utf8.size());
    // Ids and kinds only: message content never reaches the log.
    qCDebug(lcMessages) << connection->connectionId() << protocol::wireName(envelope.kind);

    for (Gate *gate : m_gates) {
        if (auto refusal = gate->check(*connection, envelope)) {
            connection->sendError(refusal->code, refusal->message, envelope.requestId);
            return;
        }
    }
    const Dispatch &dispatch = m_handlers[static_cast<std::size_t>(envelope.kind)];
    if (!dispatch) {
        connection->sendError(protocol::ErrorCode::UnknownType,
                              u"message type '%1' is not handled by this server"_s.arg(
                                  protocol::wireName(envelope.kind)),
                              envelope.requestId);
        return;
    }
    dispatch(Request(*connection, envelope.kind, envelope.requestId), envelope);
}

} // namespace medrelay::server
