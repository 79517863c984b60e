using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using RsMoe.Contracts.V1;
using RsMoe.Gateway.Pipeline;

namespace RsMoe.Gateway.Api;

/// <summary>
/// The REST face of the Captioner for web frontends: JSON with a base64 image, or a multipart form with an
/// <c>image</c> file. Errors are problem details (RFC 9457) with a message a person can act on.
/// </summary>
internal static class RestEndpoints
{
    public static IEndpointRouteBuilder MapRestApi(this IEndpointRouteBuilder app, GatewayOptions options)
    {
        // A base64 image is 4/3 of its bytes; a little room for the instruction and the JSON around it.
        long bodyLimit = options.MaxImageBytes * 4 / 3 + 64 * 1024;
        var api = app.MapGroup("/v1");
        api.MapPost("/caption", Caption).WithMetadata(new RequestSizeLimitAttribute(bodyLimit));
        api.MapPost("/caption/stream", StreamCaption).WithMetadata(new RequestSizeLimitAttribute(bodyLimit));
        api.MapPost("/ask", Ask).WithMetadata(new RequestSizeLimitAttribute(bodyLimit));
        api.MapGet("/experts", Experts);
        return app;
    }

    static async Task<IResult> Caption(HttpContext http, CaptionPipeline pipeline, GatewayOptions options) =>
        await Guarded(async token =>
        {
            var (image, instruction) = await ReadAsync(http, "instruction", token);
            var response = await pipeline.CaptionAsync(image, instruction, Deadline(options), token);
            return Results.Json(CaptionJson.From(response), RestJson.Options);
        }, http, options);

    static async Task<IResult> Ask(HttpContext http, CaptionPipeline pipeline, GatewayOptions options) =>
        await Guarded(async token =>
        {
            var (image, question) = await ReadAsync(http, "question", token);
            var response = await pipeline.AskAsync(image, question ?? "", Deadline(options), token);
            return Results.Json(AnswerJson.From(response), RestJson.Options);
        }, http, options);

    static async Task<IResult> Experts(HttpContext http, ExpertDirectory experts)
    {
        var list = await experts.ListAsync(http.RequestAborted);
        return Results.Json(new { experts = list.Experts.Select(e => new ExpertJson(e.Role, e.Version, e.Health, e.Model, e.Replicas, e.HealthyReplicas)) }, RestJson.Options);
    }

    /// <summary>Server-sent events: <c>features</c>, <c>token</c> (per section), <c>section</c>, then <c>done</c> or <c>error</c>.</summary>
    static async Task StreamCaption(HttpContext http, CaptionPipeline pipeline, GatewayOptions options)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timeout.CancelAfter(options.RequestTimeout);
        var token = timeout.Token;
        (ByteString Image, string? Text) request;
        try
        {
            request = await ReadAsync(http, "instruction", token);
        }
        catch (Exception e) when (Problem(e) is { } problem)
        {
            await problem.ExecuteAsync(http);
            return;
        }
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        try
        {
            await foreach (var e in pipeline.StreamCaptionAsync(request.Image, request.Text, Deadline(options), token))
            {
                var (name, data) = e.EventCase switch
                {
                    CaptionEvent.EventOneofCase.Features => ("features", (object)new { cache = CaptionJson.CacheName(e.Features) }),
                    CaptionEvent.EventOneofCase.Token => ("token", new { aspect = e.Token.Aspect, text = e.Token.Text }),
                    CaptionEvent.EventOneofCase.SectionDone => ("section", SectionJson.From(e.SectionDone)),
                    _ => ("done", CaptionJson.From(e.Done)),
                };
                await WriteEventAsync(http, name, data, token);
            }
        }
        catch (Exception e) when (Problem(e) is { } problem && !http.RequestAborted.IsCancellationRequested)
        {
            await WriteEventAsync(http, "error", ProblemBody(problem), CancellationToken.None);
        }
    }

    static async Task WriteEventAsync(HttpContext http, string name, object data, CancellationToken token)
    {
        await http.Response.WriteAsync($"event: {name}\ndata: {JsonSerializer.Serialize(data, RestJson.Options)}\n\n", token);
        await http.Response.Body.FlushAsync(token);
    }

    static object ProblemBody(IResult problem) => problem is IValueHttpResult { Value: ProblemDetails p }
        ? new { status = p.Status, title = p.Title, detail = p.Detail }
        : new { status = 500, title = "Internal error", detail = "" };

    static DateTime Deadline(GatewayOptions options) => DateTime.UtcNow + options.RequestTimeout;

    static async Task<IResult> Guarded(Func<CancellationToken, Task<IResult>> handle, HttpContext http, GatewayOptions options)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timeout.CancelAfter(options.RequestTimeout);
        try
        {
            return await handle(timeout.Token);
        }
        catch (Exception e) when (Problem(e) is { } problem)
        {
            return problem;
        }
    }

    /// <summary>The image and the instruction or question, from JSON or a multipart form.</summary>
    static async Task<(ByteString Image, string? Text)> ReadAsync(HttpContext http, string textField, CancellationToken token)
    {
        if (http.Request.HasFormContentType)
        {
            var form = await http.Request.ReadFormAsync(token);
            var file = form.Files.GetFile("image") ?? throw new BadRequest("the form has no 'image' file field");
            using var buffer = new MemoryStream();
            await file.CopyToAsync(buffer, token);
            return (ByteString.CopyFrom(buffer.GetBuffer(), 0, (int)buffer.Length), form[textField].FirstOrDefault());
        }
        if (http.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
            throw new UnsupportedMedia("send application/json with a base64 'image', or multipart/form-data with an 'image' file");
        string? image, text;
        try
        {
            if (textField == "question")
            {
                var body = await JsonSerializer.DeserializeAsync<AskBody>(http.Request.Body, RestJson.Options, token) ?? throw new BadRequest("the body is empty");
                (image, text) = (body.Image, body.Question);
            }
            else
            {
                var body = await JsonSerializer.DeserializeAsync<CaptionBody>(http.Request.Body, RestJson.Options, token) ?? throw new BadRequest("the body is empty");
                (image, text) = (body.Image, body.Instruction);
            }
        }
        catch (JsonException e)
        {
            throw new BadRequest($"the body is not the expected JSON: {e.Message}");
        }
        if (string.IsNullOrEmpty(image)) throw new BadRequest("'image' is required (the image file as base64)");
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(image);
        }
        catch (FormatException)
        {
            throw new BadRequest("'image' is not valid base64");
        }
        return (ByteString.CopyFrom(bytes), text);
    }

    internal sealed class BadRequest(string message) : Exception(message);
    internal sealed class UnsupportedMedia(string message) : Exception(message);

    /// <summary>Problem details for what went wrong; null for what is not the caller's business (it propagates and is logged).</summary>
    internal static IResult? Problem(Exception e) => e switch
    {
        BadRequest => Results.Problem(e.Message, statusCode: 400, title: "Bad request"),
        UnsupportedMedia => Results.Problem(e.Message, statusCode: 415, title: "Unsupported media type"),
        BadHttpRequestException { StatusCode: 413 } => Results.Problem("the request is larger than the gateway accepts", statusCode: 413, title: "Request too large"),
        BadHttpRequestException b => Results.Problem(b.Message, statusCode: b.StatusCode, title: "Bad request"),
        InvalidDataException => Results.Problem(e.Message, statusCode: 400, title: "Bad request"),
        DecoderFallbackException => Results.Problem("the body is not valid UTF-8", statusCode: 400, title: "Bad request"),
        RpcException r => r.StatusCode switch
        {
            StatusCode.InvalidArgument => Results.Problem(r.Status.Detail, statusCode: 400, title: "Bad request"),
            StatusCode.ResourceExhausted => Results.Problem(r.Status.Detail, statusCode: 413, title: "Too large"),
            StatusCode.FailedPrecondition => Results.Problem(r.Status.Detail, statusCode: 422, title: "Cannot be processed"),
            StatusCode.DeadlineExceeded => Results.Problem(r.Status.Detail, statusCode: 504, title: "Timed out"),
            StatusCode.Cancelled => Results.Problem("the request was cancelled", statusCode: 499, title: "Cancelled"),
            StatusCode.Unavailable => Results.Problem(r.Status.Detail, statusCode: 503, title: "Service unavailable"),
            _ => Results.Problem("a backend failed; the gateway's log has the details", statusCode: 502, title: "Backend error"),
        },
        OperationCanceledException => Results.Problem("the request took longer than the gateway allows", statusCode: 504, title: "Timed out"),
        _ => null,
    };
}
