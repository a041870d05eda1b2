package lab.obi.agent.capture;

/**
 * What one ring-buffer record says: an exchange, a closed connection, a retransmit after an exchange's
 * record, or the late ACK of a response.
 */
public sealed interface KernelRecord
        permits ExchangeRecord, ConnectionRecord, LateRetransmitRecord, ResponseAckedRecord {
}
