using System.ComponentModel.DataAnnotations;
namespace RsMoe.ServiceDefaults;

/// <summary>The section <c>Service</c>: where a service listens and how large its messages may be.</summary>
public sealed class ServiceOptions
{
    public const string Section = "Service";

    /// <summary>HTTP/2 cleartext port for gRPC (and YARP's health probes); 0 leaves Kestrel's own URLs.</summary>
    [Range(0, 65535)]
    public int GrpcPort { get; set; }
    /// <summary>HTTP/1.1 port for /metrics and /healthz (and, on the gateway, REST and the web page); 0 for none.</summary>
    [Range(0, 65535)]
    public int HttpPort { get; set; }
    /// <summary>The address to bind: "any" (containers) or an IP such as 127.0.0.1 (the local constellation).</summary>
    public string Bind { get; set; } = "any";
    /// <summary>The largest gRPC message this service accepts. Raised per service, only as far as its payloads need.</summary>
    [Range(1024, int.MaxValue)]
    public int MaxReceiveMessageBytes { get; set; } = 4 * 1024 * 1024;
    [Range(1024, int.MaxValue)]
    public int MaxSendMessageBytes { get; set; } = 4 * 1024 * 1024;
    /// <summary>Logs as one JSON object per line (for collectors) instead of plain text.</summary>
    public bool JsonLogs { get; set; }
}
