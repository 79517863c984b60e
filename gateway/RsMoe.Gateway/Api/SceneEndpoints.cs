using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Mvc;
using RsMoe.Gateway.Scenes;
using RsMoe.Scenes;

namespace RsMoe.Gateway.Api;

/// <summary>
/// REST scene jobs: <c>POST /v1/scenes</c> (the file as the body, or a multipart <c>image</c> field; <c>?tile=</c>,
/// <c>&amp;overlap=</c>, <c>&amp;pixel_coordinates=true</c>) answers 202 with the job and its Location;
/// <c>GET /v1/scenes/{id}</c> its status and progress; <c>GET /v1/scenes/{id}/geojson</c> the tiles finished so far (all
/// of them once done); <c>GET /v1/scenes/{id}/preview</c> the scene shrunk for a page; <c>DELETE /v1/scenes/{id}</c> cancels it, or forgets a finished one.
/// </summary>
internal static class SceneEndpoints
{
    public static IEndpointRouteBuilder MapSceneApi(this IEndpointRouteBuilder app, SceneOptions options)
    {
        var scenes = app.MapGroup("/v1/scenes");
        scenes.MapPost("", Start).WithMetadata(new RequestSizeLimitAttribute(options.MaxSceneBytes + (1 << 20)))
            .WithMetadata(new RequestFormLimitsAttribute { MultipartBodyLengthLimit = options.MaxSceneBytes });
        scenes.MapGet("{id}", Status);
        scenes.MapGet("{id}/geojson", GeoJson);
        scenes.MapGet("{id}/preview", Preview);
        scenes.MapDelete("{id}", Delete);
        return app;
    }

    static async Task<IResult> Start(HttpContext http, SceneRunner runner, SceneJobs jobs, int? tile, int? overlap, bool? pixel_coordinates, string? name)
    {
        try
        {
            var token = http.RequestAborted;
            string path, fileName;
            if (http.Request.HasFormContentType)
            {
                var form = await http.Request.ReadFormAsync(token);
                var file = form.Files.GetFile("image") ?? throw new RestEndpoints.BadRequest("the form has no 'image' file field");
                await using var stream = file.OpenReadStream();
                path = await runner.SaveAsync(Chunks(stream, token), token);
                fileName = name ?? Path.GetFileName(file.FileName);
            }
            else
            {
                path = await runner.SaveAsync(Chunks(http.Request.Body, token), token);
                fileName = name ?? "scene";
            }
            var job = jobs.Start(path, fileName, new SceneTiling(tile ?? SceneTiling.DefaultTileSize, overlap ?? 0), pixel_coordinates ?? false);
            return new Located(Results.Json(StatusOf(job), RestJson.Options, statusCode: StatusCodes.Status202Accepted), $"/v1/scenes/{job.Id}");
        }
        catch (Exception e) when (RestEndpoints.Problem(e) is { } problem)
        {
            return problem;
        }
    }

    static IResult Status(string id, SceneJobs jobs) =>
        jobs.Find(id) is { } job ? Results.Json(StatusOf(job), RestJson.Options) : NotFound(id);

    static IResult GeoJson(string id, SceneJobs jobs) =>
        jobs.Find(id) is { } job ? Results.Text(job.GeoJson(), "application/geo+json") : NotFound(id);

    static IResult Preview(string id, SceneJobs jobs) => jobs.Find(id) switch
    {
        { Preview: { } png } => Results.File(png, "image/png"),
        { } => Results.Problem("the scene's preview is not made yet (or could not be made)", statusCode: 404, title: "Not found"),
        null => NotFound(id),
    };

    static IResult Delete(string id, SceneJobs jobs) => jobs.Delete(id) ? Results.NoContent() : NotFound(id);

    static IResult NotFound(string id) => Results.Problem($"no scene job '{id}' (finished jobs are kept for a while, then forgotten)", statusCode: 404, title: "Not found");

    static object StatusOf(SceneJob job)
    {
        var (done, failed) = job.Progress();
        return new
        {
            id = job.Id, status = job.Status, file = job.FileName, width = job.Width, height = job.Height, source_crs = job.SourceCrs,
            tile_size = job.Tiling.TileSize, overlap = job.Tiling.Overlap, tiles = job.Tiles.Count, done, failed, error = job.Error,
            created = job.Created, finished = job.Finished, geojson = $"/v1/scenes/{job.Id}/geojson",
            preview = job.Preview is null ? null : $"/v1/scenes/{job.Id}/preview",
        };
    }

    static async IAsyncEnumerable<ReadOnlyMemory<byte>> Chunks(Stream stream, [EnumeratorCancellation] CancellationToken token)
    {
        var buffer = new byte[1 << 16];
        int read;
        while ((read = await stream.ReadAsync(buffer, token)) > 0) yield return buffer.AsMemory(0, read);
    }

    /// <summary>A result with a Location header.</summary>
    sealed class Located(IResult inner, string location) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.Headers.Location = location;
            return inner.ExecuteAsync(http);
        }
    }
}
