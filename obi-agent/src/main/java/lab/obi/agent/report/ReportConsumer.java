package lab.obi.agent.report;

/** Where the assembly hands its finished reports, in the order it finished them, from one thread. */
public interface ReportConsumer {

    void exchange(ExchangeReport exchange);

    void connectionClosed(ConnectionSummary connection);

    void lateRetransmit(LateRetransmitReport retransmit);

    void responseAcked(ResponseAckedReport acked);
}
