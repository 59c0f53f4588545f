"""moto_server for BASOKA's tests: moto's own server with two fixes to its DynamoDB backend.

Started by `scripts/moto`; takes the same arguments as `moto_server` (`-H HOST -p PORT`).

1. One lock around each DynamoDB call. moto checks a condition and then writes without a
   lock, so two concurrent conditional writes could both pass the same condition; DynamoDB
   itself serialises conflicting writes and transactions. With the lock, the conformance
   suite's concurrency cases (20 inserts for one household, 200 allocations of a lot of 100)
   test the adapter, not moto's races.

2. `TransactWriteItems` without whole-table copies. moto 5.x deep-copies the whole table once
   per action of a transaction, to roll back on failure. The copies include the table's stream
   records, so a transaction costs time and memory in proportion to everything the table ever
   held: on a 2-core, 24 GiB machine the conformance suite drove moto past 24 GiB and the
   kernel killed it. This version does what DynamoDB does: it checks every action's condition
   first and writes nothing unless all pass (the cancellation reasons, with ALL_OLD items, are
   moto's own), then applies the writes. Actions of one transaction touch distinct items, so
   checking all before writing any gives the same answers as moto's check-as-you-go. If a
   write still fails (a malformed update expression, an oversized item), the items the
   transaction touched are put back as they were.
"""

import copy
import sys
import threading

from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

_lock = threading.RLock()
_call_action = DynamoHandler.call_action


def _locked_call_action(self):
    with _lock:
        return _call_action(self)


def _key_of(backend, op_type, op):
    if op_type == "Put":
        attrs = op["Item"]
        table = backend.get_table(op["TableName"])
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return key
    return op["Key"]


def _transact_write_items(self, transact_items):
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen = set()
    plan = []  # (op_type, op, key) of the actions that passed their condition
    errors = []  # one (code, message, item) per action, (None, None, None) when it passed
    for entry in transact_items:
        if len(list(entry.keys())) > 1:
            raise TransactWriteSingleOpException
        original_item = None
        try:
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            key = _key_of(self, op_type, op)
            marker = (str(table_name), str(dict(sorted(key.items()))))
            if marker in seen:
                raise MultipleTransactionsException()
            seen.add(marker)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = get_filter_expression(
                    condition,
                    op.get("ExpressionAttributeNames"),
                    op.get("ExpressionAttributeValues"),
                )
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            plan.append((op_type, op, key))
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - reported as a cancellation reason, as moto does
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    before = []
    for op_type, op, key in plan:
        if op_type != "ConditionCheck":
            item = self.get_item(op["TableName"], key)
            before.append((op["TableName"], key, copy.deepcopy(item.to_json()["Attributes"]) if item else None))
    try:
        for op_type, op, key in plan:
            table_name = op["TableName"]
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
    except Exception:
        for table_name, key, attrs in reversed(before):
            if attrs is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attrs)
        raise


DynamoHandler.call_action = _locked_call_action
DynamoDBBackend.transact_write_items = _transact_write_items

from moto.server import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
