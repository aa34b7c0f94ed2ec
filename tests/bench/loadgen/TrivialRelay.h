#pragma once
// The cheapest relay that still speaks the protocol, used to show the load
// generator's own ceiling: it answers a join with a room_state and forwards
// every other frame's bytes unchanged to the other members of the sender's
// room. No JSON parsing, no targeting, no limits; never a product.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace medrelay::bench {

class TrivialRelay final
{
public:
    TrivialRelay(std::string host, std::uint16_t port);
    TrivialRelay(const TrivialRelay &) = delete;
    TrivialRelay &operator=(const TrivialRelay &) = delete;

    // Serves until SIGTERM or SIGINT; returns the process exit code.
    int run();

private:
    struct Conn
    {
        int fd = -1;
        bool upgraded = false;
        bool wantWrite = false;
        bool dirty = false; // has output queued during this loop iteration
        std::string in;
        std::string out;
        std::string room;
        std::uint64_t id = 0;
    };

    void accept();
    void onReadable(int fd);
    void onWritable(int fd);
    bool handleHandshake(Conn &c);
    bool handleFrames(Conn &c);
    void onText(Conn &c, std::string_view text);
    // Queues bytes; everything queued in one loop iteration leaves in one
    // send() per connection, as an event-loop server's buffered socket does.
    void send(Conn &c, const std::string &bytes);
    void flushDirty();
    void flush(Conn &c);
    void closeConn(int fd);

    std::string m_host;
    std::uint16_t m_port = 0;
    int m_listen = -1;
    int m_epoll = -1;
    std::uint64_t m_nextId = 1;
    std::unordered_map<int, Conn> m_conns;
    std::unordered_map<std::string, std::vector<int>> m_rooms;
    std::vector<char> m_buf;
    std::vector<int> m_dirty;
    std::string m_frame;
};

} // namespace medrelay::bench
