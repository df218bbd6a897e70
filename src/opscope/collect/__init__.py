"""Collection: turning every input format into opscope's domain types.

One module per receiver or format. Parsers take decoded input and return a
:class:`BatchResult` (the valid items and one :class:`Problem` per invalid thing);
receivers that run on their own (syslog, file tail) hand batches to an ``ingest``
coroutine. Nothing here stores or analyses anything.
"""

from opscope.collect.alertmanager import parse_alertmanager
from opscope.collect.batch import BatchResult, Problem, validate_items
from opscope.collect.body import decode_json, decode_ndjson, decode_text
from opscope.collect.filetail import FileTailer, FileTailerConfig
from opscope.collect.grafana import parse_grafana
from opscope.collect.logs import parse_log_lines
from opscope.collect.otlp import parse_otlp_logs, parse_otlp_metrics
from opscope.collect.prometheus import parse_exposition
from opscope.collect.syslog import SyslogServer, SyslogServerConfig, parse_syslog
from opscope.collect.tickets import parse_tickets_csv
from opscope.collect.topology import load_topology_yaml, parse_topology

__all__ = [
    "BatchResult", "FileTailer", "FileTailerConfig", "Problem", "SyslogServer",
    "SyslogServerConfig", "decode_json", "decode_ndjson", "decode_text", "load_topology_yaml",
    "parse_alertmanager", "parse_exposition", "parse_grafana", "parse_log_lines",
    "parse_otlp_logs", "parse_otlp_metrics", "parse_syslog", "parse_tickets_csv",
    "parse_topology", "validate_items",
]
