package lab.obi.agent.capture;

/**
 * What one ring-buffer record says: an exchange, a closed connection, a retransmit after an exchange's
 * record, the late ACK of a response, or a request's connect that never got through.
 */
public sealed interface KernelRecord
        permits ExchangeRecord, ConnectionRecord, LateRetransmitRecord, ResponseAckedRecord, ConnectFailedRecord {
}
