using Grpc.Core;

namespace RsMoe.Gateway.Backends;

/// <summary>
/// What a backend's failure means to the gateway's caller: the request's own faults (a bad image, too large) pass
/// through with their message; a backend that is down, failing or slow becomes <c>Unavailable</c> or
/// <c>DeadlineExceeded</c> naming the backend, never a transport message like "Error connecting to subchannel".
/// </summary>
public static class BackendFailure
{
    public static RpcException Explain(string backend, RpcException e) => e.StatusCode switch
    {
        StatusCode.InvalidArgument or StatusCode.ResourceExhausted or StatusCode.FailedPrecondition or StatusCode.Cancelled => e,
        StatusCode.DeadlineExceeded => new RpcException(new Status(StatusCode.DeadlineExceeded, $"{backend} did not answer in time")),
        _ when e.Status.Detail.StartsWith(backend, StringComparison.Ordinal) => e,
        _ => new RpcException(new Status(StatusCode.Unavailable, $"{backend} is unavailable ({e.StatusCode}: {e.Status.Detail})")),
    };
}
