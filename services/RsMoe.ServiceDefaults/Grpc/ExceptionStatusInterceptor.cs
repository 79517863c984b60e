using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace RsMoe.ServiceDefaults.Grpc;

/// <summary>
/// Turns what a handler throws into a gRPC status a caller can act on: bad input is <c>InvalidArgument</c> with its
/// message, a cancelled or expired call is <c>Cancelled</c> or <c>DeadlineExceeded</c>, anything unexpected is
/// <c>Internal</c> with the trace id (the stack trace goes to the log, never to the caller).
/// </summary>
public sealed class ExceptionStatusInterceptor(ILogger<ExceptionStatusInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw ToRpcException(e, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw ToRpcException(e, context);
        }
    }

    RpcException ToRpcException(Exception e, ServerCallContext context)
    {
        var status = StatusFor(e, context);
        if (status.StatusCode == StatusCode.Internal)
            logger.LogError(e, "{Method} failed", context.Method);
        else
            logger.LogInformation("{Method} answered {Status}: {Detail}", context.Method, status.StatusCode, status.Detail);
        return new RpcException(status);
    }

    public static Status StatusFor(Exception e, ServerCallContext context) => e switch
    {
        OperationCanceledException when context.Deadline <= DateTime.UtcNow => new Status(StatusCode.DeadlineExceeded, "the call's deadline passed"),
        OperationCanceledException => new Status(StatusCode.Cancelled, "the call was cancelled"),
        TimeoutException => new Status(StatusCode.DeadlineExceeded, e.Message),
        ArgumentException or FormatException => new Status(StatusCode.InvalidArgument, e.Message),
        InvalidDataException or FileNotFoundException or DirectoryNotFoundException => new Status(StatusCode.FailedPrecondition, e.Message),
        _ => new Status(StatusCode.Internal, $"internal error (trace {Activity.Current?.TraceId.ToString() ?? "none"}); the service log has the details"),
    };
}
