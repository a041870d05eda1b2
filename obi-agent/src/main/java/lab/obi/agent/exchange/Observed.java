package lab.obi.agent.exchange;

import lab.obi.agent.capture.ExchangeRecord.Direction;

/** What every report names: the observed process and its side of a connection (filters and resources use these). */
public interface Observed {

    int pid();

    String comm();

    /** null if unreadable */
    String exe();

    String service();

    /** null outside containers */
    String containerId();

    Direction direction();

    String localAddress();

    int localPort();

    String peerAddress();

    int peerPort();
}
