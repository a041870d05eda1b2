/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BTF keeps only the types that variables or functions refer to; these pointers (8 bytes each,
 * never used) keep every record, flag set and counter of the contract in the object's BTF, from
 * which the agent's decoder is generated (bpf/gen_contract.py).
 */
#pragma once

#include "obi_record.h"

const struct obi_exchange_record *obi_contract_exchange_record __attribute__((unused));
const struct obi_connection_record *obi_contract_connection_record __attribute__((unused));
const struct obi_late_retransmit_record *obi_contract_late_retransmit_record __attribute__((unused));
const struct obi_response_acked_record *obi_contract_response_acked_record __attribute__((unused));
const struct obi_connect_failed_record *obi_contract_connect_failed_record __attribute__((unused));
const enum obi_record_kind *obi_contract_record_kind __attribute__((unused));
const enum obi_direction *obi_contract_direction __attribute__((unused));
const enum obi_exchange_flag *obi_contract_exchange_flag __attribute__((unused));
const enum obi_connection_flag *obi_contract_connection_flag __attribute__((unused));
const enum obi_counter *obi_contract_counter __attribute__((unused));
