from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetRootCARequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRootCAResponse(_message.Message):
    __slots__ = ("ca_cert_pem",)
    CA_CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    ca_cert_pem: bytes
    def __init__(self, ca_cert_pem: _Optional[bytes] = ...) -> None: ...

class IssueCertificateRequest(_message.Message):
    __slots__ = ("role", "csr_pem", "proof", "sans")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    SANS_FIELD_NUMBER: _ClassVar[int]
    role: str
    csr_pem: bytes
    proof: str
    sans: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, role: _Optional[str] = ..., csr_pem: _Optional[bytes] = ..., proof: _Optional[str] = ..., sans: _Optional[_Iterable[str]] = ...) -> None: ...

class IssueCertificateResponse(_message.Message):
    __slots__ = ("cert_pem", "ca_cert_pem", "node_id", "managers")
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    MANAGERS_FIELD_NUMBER: _ClassVar[int]
    cert_pem: bytes
    ca_cert_pem: bytes
    node_id: str
    managers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cert_pem: _Optional[bytes] = ..., ca_cert_pem: _Optional[bytes] = ..., node_id: _Optional[str] = ..., managers: _Optional[_Iterable[str]] = ...) -> None: ...

class RenewCertificateRequest(_message.Message):
    __slots__ = ("csr_pem", "sans")
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    SANS_FIELD_NUMBER: _ClassVar[int]
    csr_pem: bytes
    sans: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, csr_pem: _Optional[bytes] = ..., sans: _Optional[_Iterable[str]] = ...) -> None: ...
