using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace RsMoe.ServiceDefaults.Grpc;

/// <summary>The section <c>Internal</c>: the credential the gateway presents to the internal services.</summary>
public sealed class InternalOptions
{
    public const string Section = "Internal";
    public const string Header = "x-rsmoe-internal";

    /// <summary>A shared secret (from a Kubernetes Secret, or made up by <c>rsmoe up</c>); empty accepts any caller.</summary>
    public string? Credential { get; set; }
}

/// <summary>
/// An internal service accepts gRPC calls only with the internal credential in <c>x-rsmoe-internal</c> (compared in
/// constant time, never logged). The standard health service stays open for probes, as do /healthz and /metrics.
/// </summary>
public sealed class InternalCredentialMiddleware(RequestDelegate next, InternalOptions options, ILogger<InternalCredentialMiddleware> logger)
{
    readonly byte[]? _expected = string.IsNullOrEmpty(options.Credential) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(options.Credential));

    public async Task InvokeAsync(HttpContext context)
    {
        if (_expected is null || !Refusal.IsGrpc(context) || context.Request.Path.StartsWithSegments("/grpc.health.v1.Health"))
        {
            await next(context);
            return;
        }
        string? presented = context.Request.Headers[InternalOptions.Header];
        if (presented is null || !CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), _expected))
        {
            logger.LogWarning("Refused {Path} from {Remote}: {Reason}", context.Request.Path, context.Connection.RemoteIpAddress,
                presented is null ? "no internal credential" : "wrong internal credential");
            await Refusal.WriteAsync(context, StatusCodes.Status401Unauthorized, StatusCode.Unauthenticated, "Unauthorized",
                "this service accepts only the gateway (the internal credential is missing or wrong)");
            return;
        }
        await next(context);
    }
}
