// The server's own work per relayed message, without sockets: scan and
// validate the sender's JSON, check membership, stamp the server-owned
// fields into the sender's bytes, frame it once, and hand it to each
// recipient (here a peer that only counts). Prints nanoseconds per message
// for a ~300-byte chat (history off and in memory) and a ~1.5 KB offer, in
// rooms of 2 and 10. Run it under valgrind --tool=callgrind for instruction
// counts that do not depend on the machine's load:
//   build/tests/bench/medrelay-relay-cost [messages]
//   RELAY_COST_ONLY="chat, history off/2" ... one row only

#include "consultation/Fanout.h"
#include "consultation/RoomService.h"
#include "protocol/MessageParser.h"
#include "store/MemoryHistoryStore.h"

#include <QCoreApplication>
#include <QElapsedTimer>

#include <cstdio>
#include <memory>
#include <vector>

using namespace medrelay;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

class CountingPeer final : public QObject, public Peer
{
public:
    CountingPeer(QString id, QString user) : m_id(std::move(id)) { m_identity.userId = std::move(user); }
    const QString &connectionId() const override { return m_id; }
    const Identity &identity() const override { return m_identity; }
    QString remoteAddress() const override { return u"127.0.0.1"_s; }
    // What a socket does with a message: take its (shared) frame.
    void send(const OutboundMessage &message) override { bytes += message.wsFrame().size(); }
    void sendError(protocol::ErrorCode, const QString &, const QJsonValue &) override { ++errors; }
    void close(int, const QString &) override {}
    QObject *lifetime() override { return this; }
    qint64 bytes = 0;
    int errors = 0;

private:
    QString m_id;
    Identity m_identity;
};

double run(const char *label, const QByteArray &frame, int roomSize, int messages, int maxStored)
{
    // RELAY_COST_ONLY="offer" or "chat, history off/2" runs the matching rows only.
    const QByteArray only = qgetenv("RELAY_COST_ONLY");
    if (!only.isEmpty()) {
        const QList<QByteArray> parts = only.split('/');
        if (!QByteArray(label).contains(parts.value(0)) || (parts.size() > 1 && parts[1].toInt() != roomSize))
            return 0;
    }
    store::StoreLimits limits;
    limits.maxMessagesPerRoom = maxStored;
    store::MemoryHistoryStore history(store::MemoryHistoryStore::Options{limits, 256, 60000, {}});
    LocalFanout fanout;
    RoomConfig config;
    config.resumeGraceMs = 0;
    RoomService rooms(config, AccessPolicy(), history, fanout);
    std::vector<std::unique_ptr<CountingPeer>> peers;
    for (int i = 0; i < roomSize; ++i) {
        peers.push_back(std::make_unique<CountingPeer>(u"c%1"_s.arg(i), QString::number(i + 1)));
        const QByteArray join = R"({"type":"telemedicine_user_joined","roomId":"appointment_123","appointmentId":123,"userId":)"
            + QByteArray::number(i + 1) + "}";
        auto e = protocol::parseEnvelope(join);
        rooms.join(Request(*peers.back(), e.value().kind, {}), e.value(),
                   protocol::JoinRoom::fromJson(e.value().kind, e.value().json).value());
    }
    CountingPeer &sender = *peers.front();
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < messages; ++i) {
        // What MessageHandler and RoomHandlers do for each frame.
        auto parsed = protocol::parseEnvelope(frame);
        const protocol::Envelope &e = parsed.value();
        auto m = protocol::RoomMessage::fromJson(e.kind, e.json);
        rooms.relay(Request(sender, e.kind, e.requestId), e, m.value());
    }
    const double ns = static_cast<double>(timer.nsecsElapsed()) / messages;
    std::printf("%-44s room of %-3d %8.0f ns/message  %7.0f ns/delivery\n", label, roomSize, ns,
                ns / (roomSize - 1));
    if (sender.errors != 0)
        std::printf("  (%d errors: the measurement is wrong)\n", sender.errors);
    return ns;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const int messages = argc > 1 ? std::atoi(argv[1]) : 200000;
    // ~300 bytes, as a typical chat line with a client id.
    const QByteArray chat = R"({"type":"telemedicine_chat_message","roomId":"appointment_123","appointmentId":123,)"
                            R"("message":"Thank you, doctor. The pain started on Tuesday evening and has been )"
                            R"(getting a little worse since; it is mostly on the left side.","userId":1,)"
                            R"("userName":"Pat Jones","timestamp":1724230000000,"sentAt":1724230000123})";
    const QByteArray offer = R"({"type":"telemedicine_offer","roomId":"appointment_123","appointmentId":123,"offer":{"type":"offer","sdp":")"
        + QByteArray(1400, 'a') + R"("},"timestamp":1724230000000})";
    std::printf("chat %lld bytes, offer %lld bytes, %d messages each\n", static_cast<long long>(chat.size()),
                static_cast<long long>(offer.size()), messages);
    for (int size : {2, 3, 10}) {
        run("chat, history off (seq and dedup only)", chat, size, messages, 0);
        run("chat, history in memory (2000 per room)", chat, size, messages, 2000);
        run("offer (signalling, not stored)", offer, size, messages, 0);
    }
    return 0;
}
