package lab.obi.agent.capture;

/** What one ring-buffer record says: an exchange, a closed connection, or a retransmit after an exchange's record. */
public sealed interface KernelRecord permits ExchangeRecord, ConnectionRecord, LateRetransmitRecord {
}
