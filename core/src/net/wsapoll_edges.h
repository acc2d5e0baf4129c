// Windows only: how socket_ops_win.cpp tells the calling thread's event loop that a socket was
// drained (a read or write hit WSAEWOULDBLOCK, or came back short). WSAPoll is level-triggered;
// the loop reports each readiness once and polls for it again only after this note — the edge
// semantics epoll's EPOLLET gives the sessions on Linux (see event_loop_wsapoll.cpp).
#pragma once

#ifdef _WIN32
#include "net/socket_ops.h"

namespace postern::net::detail {

enum Edge : unsigned { kReadEdge = 1u, kWriteEdge = 2u };

/** Re-arms `edge` for `fd` in the event loop running on this thread; a no-op when the thread runs
 * no loop or the fd is not registered there. */
void noteWouldBlock(Fd fd, unsigned edge);

}  // namespace postern::net::detail
#endif
