package lab.obi.agent.network;

import com.sun.jna.Library;
import com.sun.jna.Native;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Listens to the kernel's link notifications (rtnetlink, RTMGRP_LINK) of the agent's network
 * namespace: an interface that goes down or loses carrier is known at once, not at the next poll.
 * In a container the agent needs the host's network namespace to see the host's interfaces,
 * container veths included.
 */
public final class NetlinkLinkMonitor implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(NetlinkLinkMonitor.class);

    private static final int AF_NETLINK = 16;
    private static final int SOCK_RAW = 3;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int NETLINK_ROUTE = 0;
    private static final int RTMGRP_LINK = 1;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;
    private static final int SO_RCVBUF = 8;
    private static final int EAGAIN = 11;
    private static final int EINTR = 4;
    private static final int ENOBUFS = 105;
    private static final int RECEIVE_TIMEOUT_MS = 200;
    private static final int BUFFER_BYTES = 1 << 16;

    interface LibC extends Library {
        LibC INSTANCE = Native.load("c", LibC.class);

        int socket(int domain, int type, int protocol);

        int bind(int fd, byte[] address, int length);

        int setsockopt(int fd, int level, int name, byte[] value, int length);

        long send(int fd, byte[] buffer, long length, int flags);

        long recv(int fd, byte[] buffer, long length, int flags);

        int close(int fd);

        String strerror(int errnum);
    }

    private final InterfaceOutages outages;
    private final int fd;
    private final Thread thread;
    private final AtomicLong overruns = new AtomicLong();
    private volatile boolean closed;

    private NetlinkLinkMonitor(InterfaceOutages outages, int fd) {
        this.outages = outages;
        this.fd = fd;
        this.thread = new Thread(this::listen, "obi-netlink");
        thread.setDaemon(true);
    }

    /** Opens the socket, reads the current state of every interface, then follows changes. */
    public static NetlinkLinkMonitor start(InterfaceOutages outages) throws IOException {
        LibC c = LibC.INSTANCE;
        int fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0) {
            throw new IOException("cannot open a netlink socket: " + c.strerror(Native.getLastError()));
        }
        try {
            ByteBuffer address = ByteBuffer.allocate(12).order(ByteOrder.nativeOrder());
            address.putShort((short) AF_NETLINK).putShort((short) 0).putInt(0).putInt(RTMGRP_LINK);
            if (c.bind(fd, address.array(), 12) < 0) {
                throw new IOException("cannot subscribe to link changes: " + c.strerror(Native.getLastError()));
            }
            c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, intValue(1 << 20), 4);
            c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval(RECEIVE_TIMEOUT_MS), 16);
            NetlinkLinkMonitor monitor = new NetlinkLinkMonitor(outages, fd);
            int interfaces = monitor.readBaseline();
            monitor.thread.start();
            LOG.infof("following link state of %d network interfaces (rtnetlink)", interfaces);
            return monitor;
        } catch (IOException e) {
            c.close(fd);
            throw e;
        }
    }

    /** Notifications lost because the socket's buffer overflowed (ENOBUFS). */
    public long overruns() {
        return overruns.get();
    }

    private int readBaseline() throws IOException {
        byte[] request = LinkMessages.dumpRequest(1);
        if (LibC.INSTANCE.send(fd, request, request.length, 0) < 0) {
            throw new IOException("cannot list network interfaces: " + LibC.INSTANCE.strerror(Native.getLastError()));
        }
        byte[] buffer = new byte[BUFFER_BYTES];
        int interfaces = 0;
        while (true) {
            long n = LibC.INSTANCE.recv(fd, buffer, buffer.length, 0);
            if (n < 0) {
                int errno = Native.getLastError();
                if (errno == EINTR) {
                    continue;
                }
                throw new IOException("cannot list network interfaces: " + LibC.INSTANCE.strerror(errno));
            }
            for (LinkState link : LinkMessages.decode(buffer, (int) n)) {
                outages.baseline(link);
                interfaces++;
            }
            if (LinkMessages.endsDump(buffer, (int) n)) {
                return interfaces;
            }
        }
    }

    private void listen() {
        byte[] buffer = new byte[BUFFER_BYTES];
        while (!closed) {
            long n = LibC.INSTANCE.recv(fd, buffer, buffer.length, 0);
            long now = System.nanoTime();
            if (n < 0) {
                int errno = Native.getLastError();
                if (errno == ENOBUFS) {
                    overruns.incrementAndGet();
                    LOG.warn("link notifications lost (netlink buffer overrun): an outage may be missed");
                } else if (errno != EAGAIN && errno != EINTR && !closed) {
                    LOG.errorf("link monitoring stopped: %s", LibC.INSTANCE.strerror(errno));
                    return;
                }
                continue;
            }
            for (LinkState link : LinkMessages.decode(buffer, (int) n)) {
                outages.update(link, now);
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        thread.join(2 * RECEIVE_TIMEOUT_MS + 1000);
        LibC.INSTANCE.close(fd);
    }

    private static byte[] intValue(int value) {
        return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(value).array();
    }

    private static byte[] timeval(int millis) {
        return ByteBuffer.allocate(16).order(ByteOrder.nativeOrder()).putLong(millis / 1000)
                .putLong((millis % 1000) * 1000L).array();
    }
}
