#pragma once
// One load-generator worker: a single-threaded epoll loop that owns a slice
// of the simulated clients (whole rooms, so every exchange inside a room stays
// in one process), follows the phases the coordinator sets in shared memory,
// and records what it sends and receives into its WorkerStats block.

#include "Shared.h"
#include "Wire.h"

#include <cstdint>
#include <string>
#include <vector>

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace medrelay::bench {

struct WorkerConfig
{
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    // Several instances: each client connects to one of these ports, chosen
    // by its place in its room (splitMembers) or by its room.
    std::vector<std::uint16_t> ports;
    bool splitMembers = true;
    std::string path = "/ws";
    std::string roomPrefix = "bench";
    bool tls = false; // wss:// (OpenSSL client, no certificate check)
    // Source addresses 127.1.0.1 ... 127.1.0.N round robin (0: the kernel's
    // choice): one source address has only ~28,000 ports to one server port.
    int sourceAddresses = 0;
    int workerIndex = 0;
    int workerCount = 1;
    int firstClient = 0;  // global index of this worker's first client
    int clientCount = 0;  // clients this worker owns (a multiple of roomSize, except maybe the last room)
    int totalClients = 0; // all workers together, for connect checkpoints
    int roomSize = 2;
    int inflight = 256;   // connects in progress at once
    double connectTimeoutS = 20.0;
    int payloadBytes = 64;
    std::size_t maxPendingBytes = 512 * 1024; // per-socket backlog before sends are skipped
    // Clinic profile.
    int iceBurst = 20;
    double signalSpreadS = 2.0;
    double whiteboardShare = 0.9; // share of steady clinic messages that are whiteboard updates
};

class ClientWorker final
{
public:
    ClientWorker(WorkerConfig config, Control &control, WorkerStats &stats);
    ~ClientWorker();
    ClientWorker(const ClientWorker &) = delete;
    ClientWorker &operator=(const ClientWorker &) = delete;

    // Runs until the coordinator sets Phase::Close (or disappears).
    void run();

private:
    enum class State : std::uint8_t { Unused, Connecting, TlsHandshaking, Handshaking, Joining, Joined, Closed };

    struct Client
    {
        int fd = -1;
        SSL *ssl = nullptr; // with --tls
        State state = State::Unused;
        bool wantWrite = false;
        std::uint64_t startNs = 0;
        std::string in;   // bytes not yet parsed (partial frames)
        std::string out;  // bytes the socket has not taken yet
        std::string frag; // fragmented message being reassembled
    };

    void enterPhase(Phase phase);
    void startConnects(std::uint64_t now);
    void checkTimeouts(std::uint64_t now);
    void onEvent(int index, std::uint32_t events, std::uint64_t now);
    void onWritable(int index, std::uint64_t now);
    void onReadable(int index, std::uint64_t now);
    bool consume(int index, char *data, std::size_t len, std::uint64_t now); // false: connection closed
    void onMessage(int index, std::string_view text, std::uint64_t now);
    void sendText(int index, std::string_view text);
    void sendFrame(int index, Opcode opcode, std::string_view payload);
    void flush(int index);
    // send()/recv() or their TLS equivalents: > 0 bytes, 0 at the end of the
    // stream (recv), -1 with errno set (EAGAIN when TLS must wait).
    ssize_t ioSend(Client &c, const char *data, std::size_t len);
    ssize_t ioRecv(Client &c, char *buffer, std::size_t capacity);
    void tlsHandshake(int index);
    void updateInterest(int index);
    void fail(int index, const char *why);
    void paceTraffic(std::uint64_t now);
    void paceSignalling(std::uint64_t now);
    void sendTimed(int index, int kind, int toIndex, std::uint64_t sentNs, int latencyClass);
    void noteError(std::string_view text, bool reply = false);

    [[nodiscard]] int roomOf(int index) const { return index / m_config.roomSize; }
    [[nodiscard]] int globalRoomOf(int index) const { return (m_config.firstClient + index) / m_config.roomSize; }
    [[nodiscard]] long long userIdOf(int index) const { return m_config.firstClient + index + 1; }
    [[nodiscard]] int connectTarget() const;

    WorkerConfig m_config;
    Control &m_control;
    WorkerStats &m_stats;
    int m_epoll = -1;
    SSL_CTX *m_tls = nullptr;
    std::vector<Client> m_clients;
    std::vector<int> m_joinedInRoom;
    std::uint32_t m_seenSeq = 0;
    Phase m_phase = Phase::Idle;
    bool m_connecting = false;
    int m_nextConnect = 0;
    int m_inflight = 0;
    std::uint64_t m_lastTimeoutScan = 0;
    // Pacing
    bool m_sending = false;
    std::uint64_t m_paceStartNs = 0;
    double m_rate = 0; // messages per second
    std::uint64_t m_paced = 0;
    int m_nextSender = 0;
    double m_wbCredit = 0;
    // Clinic signalling
    bool m_signalling = false;
    int m_nextSignalRoom = 0;
    std::uint64_t m_seq = 0;
    std::uint64_t m_stepMaxEpoch = 0;
    XorShift m_rng;
    std::string m_json;
    std::string m_frame;
    std::string m_payload;
    std::string m_sdp;
    std::vector<char> m_readBuf;
    std::string m_request;
};

} // namespace medrelay::bench
