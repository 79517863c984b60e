using System.Runtime.CompilerServices;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using RsMoe.Gateway.Pipeline;

namespace RsMoe.Gateway.Api;

/// <summary>
/// <c>POST /v1/caption/batch</c>: a multipart form with one or more <c>images</c> files (and an optional
/// <c>instruction</c>), answered as JSON Lines (<c>application/x-ndjson</c>), one line per image as it finishes (in any
/// order): <c>{"key": file name, "caption": {…as /v1/caption}}</c>, or <c>{"key", "status", "error"}</c> for an image that
/// failed. The batch policy is <see cref="BatchCaptions"/>'s, the same as gRPC <c>CaptionImages</c>.
/// </summary>
internal static class BatchEndpoints
{
    public static IEndpointRouteBuilder MapBatchApi(this IEndpointRouteBuilder app, GatewayOptions options)
    {
        app.MapPost("/v1/caption/batch", Batch)
            .WithMetadata(new RequestSizeLimitAttribute(options.MaxBatchBytes + (1 << 20)))
            .WithMetadata(new RequestFormLimitsAttribute { MultipartBodyLengthLimit = options.MaxBatchBytes, ValueCountLimit = 100_000 });
        return app;
    }

    static async Task Batch(HttpContext http, BatchCaptions batches, GatewayOptions options)
    {
        var token = http.RequestAborted;
        IFormFileCollection files;
        string? instruction;
        try
        {
            if (!http.Request.HasFormContentType) throw new RestEndpoints.UnsupportedMedia("send multipart/form-data with one or more 'images' files");
            var form = await http.Request.ReadFormAsync(token);
            files = form.Files;
            if (files.GetFiles("images").Count == 0) throw new RestEndpoints.BadRequest("the form has no 'images' file field");
            instruction = form["instruction"].FirstOrDefault();
        }
        catch (Exception e) when (RestEndpoints.Problem(e) is { } problem)
        {
            await problem.ExecuteAsync(http);
            return;
        }
        http.Response.ContentType = "application/x-ndjson";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await batches.RunAsync(Items(files.GetFiles("images"), instruction, token), () => DateTime.UtcNow + options.RequestTimeout, async (outcome, ct) =>
        {
            object line = outcome.Caption is { } caption
                ? new { key = outcome.Key, caption = CaptionJson.From(caption) }
                : new { key = outcome.Key, status = outcome.Failure!.StatusCode.ToString(), error = outcome.Failure.Status.Detail };
            await http.Response.WriteAsync(JsonSerializer.Serialize(line, RestJson.Options) + "\n", ct);
            await http.Response.Body.FlushAsync(ct);
        }, token);
    }

    static async IAsyncEnumerable<BatchCaptions.Item> Items(IReadOnlyList<IFormFile> files, string? instruction, [EnumeratorCancellation] CancellationToken token)
    {
        foreach (var file in files)
        {
            using var buffer = new MemoryStream();
            await file.CopyToAsync(buffer, token);
            yield return new BatchCaptions.Item(file.FileName, ByteString.CopyFrom(buffer.GetBuffer(), 0, (int)buffer.Length), instruction);
        }
    }
}
