using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace RsMoe.ServiceDefaults.Grpc;

/// <summary>Answers for requests refused before they reach an endpoint: problem details for REST, a gRPC status for gRPC.</summary>
public static class Refusal
{
    public static bool IsGrpc(HttpContext context) =>
        context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

    public static Task WriteAsync(HttpContext context, int httpStatus, StatusCode grpcStatus, string title, string message)
    {
        if (IsGrpc(context))
        {
            // A gRPC "trailers-only" response: HTTP 200 with the status in the headers.
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = ((int)grpcStatus).ToString();
            context.Response.Headers["grpc-message"] = Uri.EscapeDataString(message);
            return Task.CompletedTask;
        }
        return Results.Problem(message, statusCode: httpStatus, title: title).ExecuteAsync(context);
    }
}
