using System.Text.Json;
using RsMoe.Cli.Tests.Support;

namespace RsMoe.Cli.Tests;

/// <summary>
/// <c>rsmoe scene-sample</c> and <c>rsmoe scene</c> through the real binary: a georeferenced GeoTIFF of twelve real
/// UCM-captions test photos, captioned tile by tile into GeoJSON with the embedded default model.
/// </summary>
public sealed class SceneCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rsmoe-scene-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Each_tile_of_a_real_scene_gets_the_caption_its_photo_gets_placed_where_PROJ_puts_it()
    {
        string scene = Path.Combine(_dir, "scene.tif"), geojson = Path.Combine(_dir, "out", "scene.geojson");
        var (code, stdout, stderr) = RsmoeProcess.Run(TimeSpan.FromMinutes(2), "scene-sample", "--out", scene, "--data", SharedData.Path());
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("1024×768 pixels, EPSG:32611", stdout);

        (code, stdout, stderr) = RsmoeProcess.Run(TimeSpan.FromMinutes(3), "scene", scene, "--out", geojson);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("12 tiles of 256 px", stdout);
        Assert.Contains("captioned 12 of 12 tiles", stdout);

        using var json = JsonDocument.Parse(File.ReadAllText(geojson));
        var root = json.RootElement;
        Assert.Equal("EPSG:32611", root.GetProperty("source_crs").GetString());
        var features = root.GetProperty("features").EnumerateArray().ToList();
        Assert.Equal(12, features.Count);

        // The last tile (column 3, row 2: x 768–1024, y 512–768 at 0.3 m from (500000, 4000000)); its bottom-right
        // corner is (500307.2, 3999769.6), which PROJ 9.1.1 (cs2cs EPSG:32611 EPSG:4326) puts at -116.996585340, 36.142640826.
        var corner = features[11].GetProperty("geometry").GetProperty("coordinates")[0][1];
        Assert.Equal(-116.996585340, corner[0].GetDouble(), 1e-7);
        Assert.Equal(36.142640826, corner[1].GetDouble(), 1e-7);

        // Each tile is exactly one photo, so its caption is the photo's own: the same as caption-batch writes for the
        // JPEG itself (the pixels go through the GeoTIFF and a PNG losslessly).
        string list = Path.Combine(_dir, "photos.txt");
        File.WriteAllLines(list, RsMoe.Scenes.SceneMosaic.UcmTestPhotos(SharedData.Path(), 12).Select(p => p.Path));
        string batch = Path.Combine(_dir, "photos.jsonl");
        (code, stdout, stderr) = RsmoeProcess.Run(TimeSpan.FromMinutes(3), "caption-batch", list, "--out", batch);
        Assert.True(code == 0, stdout + stderr);
        var expected = File.ReadAllLines(batch).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("caption").GetString()).ToList();
        Assert.Equal(expected, features.Select(f => f.GetProperty("properties").GetProperty("caption").GetString()));
        Assert.All(features, f =>
        {
            var p = f.GetProperty("properties");
            Assert.False(string.IsNullOrWhiteSpace(p.GetProperty("theme").GetString()));
            Assert.Equal(3, p.GetProperty("sections").EnumerateObject().Count());
        });

        // The summary covers the scene once: shares add to 1, tiles to 12, area to 1024 × 768 × 0.09 m².
        var summary = root.GetProperty("summary").EnumerateArray().ToList();
        Assert.Equal(1.0, summary.Sum(s => s.GetProperty("share").GetDouble()), 1e-5);
        Assert.Equal(12, summary.Sum(s => s.GetProperty("tiles").GetInt32()));
        Assert.Equal(1024 * 768 * 0.09, summary.Sum(s => s.GetProperty("square_metres").GetDouble()), 1.0);   // each rounded to 0.1 m²
        Assert.True(summary.Zip(summary.Skip(1)).All(p => p.First.GetProperty("pixels").GetInt64() >= p.Second.GetProperty("pixels").GetInt64()), "largest first");
    }

    [Fact]
    public void A_file_that_is_not_a_scene_gets_a_clear_error_and_no_output()
    {
        string bad = Path.Combine(_dir, "bad.tif"), geojson = Path.Combine(_dir, "bad.geojson");
        File.WriteAllBytes(bad, [(byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0]);
        var (code, stdout, stderr) = RsmoeProcess.Run(TimeSpan.FromMinutes(1), "scene", bad, "--out", geojson);
        Assert.Equal(2, code);
        Assert.Contains("cannot be read", stdout + stderr);
        Assert.False(File.Exists(geojson));

        (code, stdout, stderr) = RsmoeProcess.Run(TimeSpan.FromMinutes(1), "scene", SharedData.Path("ucm-captions", "images", "1.jpg"), "--out", geojson, "--overlap", "200");
        Assert.Equal(2, code);
        Assert.Contains("overlap", stdout + stderr);
    }
}
