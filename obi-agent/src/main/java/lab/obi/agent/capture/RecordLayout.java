package lab.obi.agent.capture;

/** Byte offsets of struct obi_exchange, pinned by the static assertions in bpf/include/obi_record.h. */
final class RecordLayout {
    static final int CONN_ID = 0;
    static final int START_NS = 8;
    static final int REQUEST_END_NS = 16;
    static final int RESPONSE_START_NS = 24;
    static final int END_NS = 32;
    static final int FIN_NS = 40;
    static final int RST_NS = 48;
    static final int WRITE_ERROR_NS = 56;
    static final int BYTES_IN = 64;
    static final int BYTES_OUT = 72;
    static final int RESPONSE_BYTES_AT_ABANDON = 80;
    static final int CONTENT_LENGTH = 88;
    static final int PID = 96;
    static final int TID = 100;
    static final int REQUEST_INDEX = 104;
    static final int FLAGS = 108;
    static final int STATUS = 112;
    static final int FAMILY = 114;
    static final int LOCAL_PORT = 116;
    static final int PEER_PORT = 118;
    static final int LOCAL_ADDR = 120;
    static final int PEER_ADDR = 136;
    static final int COMM = 152;
    static final int COMM_LEN = 16;
    static final int REQ_HEAD_LEN = 168;
    static final int RESP_HEAD_LEN = 170;
    static final int DIRECTION = 172;
    static final int KIND = 173;
    static final int RESP_HEAD = 176;
    static final int RESP_HEAD_MAX = 256;
    static final int PARENT_CONN_ID = 432;
    static final int PARENT_REQUEST_INDEX = 440;
    static final int RETRANSMITS = 444;
    static final int FIRST_RETRANSMIT_NS = 448;
    static final int LAST_RETRANSMIT_NS = 456;
    static final int ESTABLISHED_NS = 464;
    static final int CONNECT_NS = 472;
    static final int SRTT_US = 480;
    static final int SYN_RETRANSMITS = 484;
    static final int REQ_HEAD = 488;
    static final int REQ_HEAD_MAX = 1024;

    static final int DIRECTION_SERVER = 1;
    static final int DIRECTION_CLIENT = 2;

    static final int KIND_EXCHANGE = 0;
    static final int KIND_CONNECTION = 1;
    static final int KIND_LATE_RETRANSMIT = 2;

    private RecordLayout() {
    }
}
