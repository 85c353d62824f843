from aurigraph.v1 import block_pb2 as _block_pb2
from aurigraph.v1 import consensus_pb2 as _consensus_pb2
from aurigraph.v1 import crypto_pb2 as _crypto_pb2
from aurigraph.v1 import models_pb2 as _models_pb2
from aurigraph.v1 import monitoring_pb2 as _monitoring_pb2
from aurigraph.v1 import node_pb2 as _node_pb2
from aurigraph.v1 import transaction_pb2 as _transaction_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
