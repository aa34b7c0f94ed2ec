#pragma once
// One accepted, non-blocking socket as a byte stream, plain or TLS: the same
// few calls whether bytes go through recv()/sendmsg() or through OpenSSL on
// the same fd. Both the listener (TLS handshake, request head, HTTP answers)
// and WebSocketConnection use it, so a socket moves from one to the other
// as a value, with its TLS session. Move-only; closes the socket when it
// goes. Not thread-safe: one thread uses a stream at a time (handing it to
// another thread is fine).

#include <QByteArray>
#include <QList>
#include <QtGlobal>

using SSL = struct ssl_st;

namespace medrelay::transport {

class Stream final
{
public:
    enum class Status : quint8 {
        Ok,        // done (for reads: possibly more to come)
        WantRead,  // wait until the socket is readable, then call again
        WantWrite, // wait until the socket is writable, then call again
        Closed,    // the peer closed (EOF, or a TLS close_notify)
        Failed,    // reset, TLS alert, or any other error: close it
    };
    struct Result
    {
        qsizetype bytes = 0;
        Status status = Status::Ok; // applies after `bytes` were moved
    };

    // Plaintext bytes a TLS read needs room for: one whole record, so
    // OpenSSL never keeps decrypted bytes the socket's readiness would not
    // announce again.
    static constexpr qsizetype TlsRecordSize = 16 * 1024;

    Stream() = default;
    // Takes `fd` (and `ssl`, already bound to it, if not null).
    Stream(int fd, SSL *ssl);
    ~Stream();
    Stream(Stream &&other) noexcept;
    Stream &operator=(Stream &&other) noexcept;
    Q_DISABLE_COPY(Stream)

    [[nodiscard]] bool isOpen() const { return m_fd >= 0; }
    [[nodiscard]] bool isTls() const { return m_ssl != nullptr; }
    [[nodiscard]] int fd() const { return m_fd; }

    // Makes the fd non-blocking and close-on-exec, with TCP_NODELAY for TCP.
    bool prepareSocket();
    // TLS: drives the handshake; Ok once it is complete. Plain: Ok.
    Result handshake();
    // Reads into `buffer`: plain, one recv(); TLS, whole records while a
    // record still fits. Ok with bytes > 0; WantRead when nothing is there.
    Result read(char *buffer, qsizetype capacity);
    // Writes from the front of `frames`, starting `headOffset` bytes into
    // the first: plain, one sendmsg() of up to 64 frames; TLS, one record
    // per frame (each encrypted straight from the shared frame, no copy of
    // ours). Returns how many bytes went, and why it stopped if not all did.
    Result write(const QList<QByteArray> &frames, qsizetype headOffset);
    Result write(const QByteArray &bytes);
    // True when a TLS session holds decrypted bytes not read yet.
    [[nodiscard]] bool hasBufferedInput() const;
    // Ends the stream politely: TLS close_notify (one try, never blocks),
    // then no more writes (shutdown(SHUT_WR)). Reading may go on.
    void shutdown();
    // Closes now. `abortive`: reset (SO_LINGER 0) so the kernel drops what
    // is unsent at once, and no close_notify.
    void close(bool abortive = false);
    // Gives up ownership of the fd and TLS session (to rebuild the stream
    // in another thread); the stream is then closed.
    struct Parts
    {
        int fd = -1;
        SSL *ssl = nullptr;
    };
    [[nodiscard]] Parts release();

    // Frees OpenSSL's state for the calling thread (its error queue). A
    // thread that used TLS calls it last thing before it ends, rather than
    // leaving it to the thread-exit destructor, which can still be running
    // when whoever waited for the thread has moved on (and at process exit
    // would leave it to look like a leak).
    static void releaseThreadState();

    // The negotiated protocol ("TLSv1.3"), for logs; empty when plain.
    [[nodiscard]] QByteArray tlsVersion() const;

private:
    Result tlsResult(int rc, qsizetype done);

    int m_fd = -1;
    SSL *m_ssl = nullptr;
};

} // namespace medrelay::transport
