extern alias GatewayHost;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Mvc.Testing;
using RsMoe.Contracts.V1;
using RsMoe.EndToEnd.Tests.Support;
using RsMoe.Scenes;
using GatewayProgram = GatewayHost::Program;

namespace RsMoe.EndToEnd.Tests;

/// <summary>
/// Large scenes through the running constellation: a georeferenced GeoTIFF of real UCM-captions test photos, uploaded
/// over gRPC (a streaming call) and as a REST job, each tile captioned by the experts; cancellation; bad uploads.
/// </summary>
[Collection(ConstellationCollection.Name)]
public sealed class SceneApiTests(ConstellationFixture fixture) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rsmoe-scene-api-").FullName;
    Captioner.CaptionerClient Captioner => new(fixture.Gateway);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A 2 × 2 scene of four UCM test photos (one per class) in UTM zone 11N at 0.3 m a pixel, and the photos.</summary>
    (string Path, IReadOnlyList<string> Photos) Scene(int photos = 4, int columns = 2)
    {
        var sources = SceneMosaic.UcmTestPhotos(SharedData.Path(), photos).Select(p => p.Path).ToList();
        string path = System.IO.Path.Combine(_dir, $"scene-{photos}.tif");
        SceneMosaic.Write(path, sources, columns, cellSize: 256, new GeoTiffWriter.Georeferencing(500000, 4000000, 0.3, 32611));
        return (path, sources);
    }

    [Fact]
    public async Task A_scene_streamed_over_gRPC_gets_every_tile_as_it_finishes_each_with_its_photos_caption()
    {
        var (path, photos) = Scene();
        using var call = Captioner.CaptionScene(deadline: DateTime.UtcNow.AddMinutes(3));
        byte[] bytes = File.ReadAllBytes(path);
        for (int offset = 0; offset < bytes.Length; offset += 64 << 10)
        {
            var upload = new SceneUpload { Chunk = ByteString.CopyFrom(bytes, offset, Math.Min(64 << 10, bytes.Length - offset)) };
            if (offset == 0) upload.Settings = new SceneSettings { TileSize = 256, FileName = "four.tif" };
            await call.RequestStream.WriteAsync(upload);
        }
        await call.RequestStream.CompleteAsync();

        var events = new List<SceneEvent>();
        await foreach (var e in call.ResponseStream.ReadAllAsync()) events.Add(e);
        var started = events[0].Started;
        Assert.Equal((512, 512, 4, "EPSG:32611"), (started.Width, started.Height, started.Tiles, started.SourceCrs));
        var tiles = events.Skip(1).TakeWhile(e => e.EventCase == SceneEvent.EventOneofCase.Tile).Select(e => e.Tile).ToList();
        Assert.Equal([1, 2, 3, 4], tiles.Select(t => t.Done));
        Assert.All(tiles, t => Assert.Equal(4, t.Total));
        Assert.Equal(SceneEvent.EventOneofCase.Done, events[^1].EventCase);
        Assert.Equal((4, 0), (events[^1].Done.Captioned, events[^1].Done.Failed));

        // Each tile is one photo: its caption is the one the gateway gives that photo's JPEG.
        foreach (var tile in tiles.OrderBy(t => t.Index))
        {
            Assert.Equal("", tile.Error);
            Assert.False(string.IsNullOrWhiteSpace(tile.Theme));
            var own = await Captioner.CaptionAsync(new CaptionRequest { Image = ByteString.CopyFrom(File.ReadAllBytes(photos[tile.Index])) });
            Assert.Equal(own.Caption, tile.Caption);
        }
        using var geojson = JsonDocument.Parse(events[^1].Done.Geojson);
        Assert.Equal(4, geojson.RootElement.GetProperty("features").GetArrayLength());
        Assert.Equal("four.tif", geojson.RootElement.GetProperty("scene").GetProperty("file").GetString());
    }

    [Fact]
    public async Task A_REST_scene_job_reports_progress_serves_its_GeoJSON_and_is_forgotten_when_deleted()
    {
        var (path, _) = Scene();
        using var body = new ByteArrayContent(File.ReadAllBytes(path));
        body.Headers.ContentType = new("image/tiff");
        var started = await fixture.Http.PostAsync("/v1/scenes?tile=256&name=four.tif", body);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        string location = started.Headers.Location!.ToString();
        var job = await started.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(4, job.GetProperty("tiles").GetInt32());
        Assert.Equal("EPSG:32611", job.GetProperty("source_crs").GetString());

        for (int i = 0; i < 240 && job.GetProperty("status").GetString() is "queued" or "running"; i++)
        {
            await Task.Delay(500);
            job = await fixture.Http.GetFromJsonAsync<JsonElement>(location);
        }
        Assert.Equal("done", job.GetProperty("status").GetString());
        Assert.Equal((4, 0), (job.GetProperty("done").GetInt32(), job.GetProperty("failed").GetInt32()));

        var geojson = await fixture.Http.GetAsync(location + "/geojson");
        Assert.Equal("application/geo+json", geojson.Content.Headers.ContentType!.MediaType);
        using var collection = JsonDocument.Parse(await geojson.Content.ReadAsStringAsync());
        var features = collection.RootElement.GetProperty("features").EnumerateArray().ToList();
        Assert.Equal(4, features.Count);
        Assert.All(features, f => Assert.False(string.IsNullOrWhiteSpace(f.GetProperty("properties").GetProperty("caption").GetString())));
        Assert.Equal(1.0, collection.RootElement.GetProperty("summary").EnumerateArray().Sum(s => s.GetProperty("share").GetDouble()), 1e-5);

        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Http.DeleteAsync(location)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Http.GetAsync(location)).StatusCode);
    }

    [Fact]
    public async Task A_running_scene_job_stops_when_cancelled_and_keeps_what_it_finished()
    {
        var (path, _) = Scene(photos: 12, columns: 4);
        using var body = new ByteArrayContent(File.ReadAllBytes(path));
        var started = await fixture.Http.PostAsync("/v1/scenes?tile=64", body);   // 192 tiles
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        string location = started.Headers.Location!.ToString();
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Http.DeleteAsync(location)).StatusCode);

        JsonElement job = default;
        for (int i = 0; i < 120; i++)
        {
            job = await fixture.Http.GetFromJsonAsync<JsonElement>(location);
            if (job.GetProperty("status").GetString() is not ("queued" or "running")) break;
            await Task.Delay(250);
        }
        Assert.Equal("cancelled", job.GetProperty("status").GetString());
        Assert.True(job.GetProperty("done").GetInt32() < 192, $"{job.GetProperty("done").GetInt32()} of 192 tiles were captioned after the cancel");
        var geojson = await fixture.Http.GetFromJsonAsync<JsonElement>(location + "/geojson");
        Assert.Equal(job.GetProperty("done").GetInt32(), geojson.GetProperty("features").GetArrayLength());
    }

    [Fact]
    public async Task A_file_that_is_not_a_scene_or_is_too_large_gets_a_problem_or_a_status_naming_why()
    {
        using var garbage = new ByteArrayContent("this is not a scene"u8.ToArray());
        var response = await fixture.Http.PostAsync("/v1/scenes", garbage);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("not an image", await response.Content.ReadAsStringAsync());

        using var overlap = new ByteArrayContent(File.ReadAllBytes(Scene().Path));
        response = await fixture.Http.PostAsync("/v1/scenes?tile=256&overlap=200", overlap);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("overlap", await response.Content.ReadAsStringAsync());

        using (var call = Captioner.CaptionScene())
        {
            await call.RequestStream.WriteAsync(new SceneUpload { Chunk = ByteString.CopyFromUtf8("II*\0garbage") });
            await call.RequestStream.CompleteAsync();
            var error = await Assert.ThrowsAsync<RpcException>(async () => { await foreach (var _ in call.ResponseStream.ReadAllAsync()) { } });
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        }

        // A gateway that accepts scenes up to 100 kB refuses a larger one with 413 and keeps nothing.
        await using var small = new WebApplicationFactory<GatewayProgram>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("Scenes:MaxSceneBytes", "100000");
            builder.UseSetting("Cache:Redis", "");
        });
        using var large = new ByteArrayContent(File.ReadAllBytes(Scene().Path));
        response = await small.CreateClient().PostAsync("/v1/scenes", large);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("larger than the 100,000 bytes", await response.Content.ReadAsStringAsync());
    }
}
