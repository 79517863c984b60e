using System.Text.Json.Nodes;
using BitMiracle.LibTiff.Classic;
using RsMoe.Captions;
using RsMoe.Data.Images;
using RsMoe.Scenes;

namespace RsMoe.Scenes.Tests;

/// <summary>
/// A real scene: twelve UCM-captions test photographs (one per class) laid out 4 × 3 and written as a tiled GeoTIFF in
/// UTM zone 11N (EPSG:32611) at 0.3 m a pixel, its top-left corner at (500000, 4000000). Expected longitudes and
/// latitudes come from PROJ 9.1.1 (<c>cs2cs -f "%.9f" EPSG:32611 EPSG:4326</c>).
/// </summary>
public sealed class SceneFileTests : IDisposable
{
    readonly string _directory = Path.Combine(Path.GetTempPath(), "rsmoe-scene-tests", Guid.NewGuid().ToString("N"));
    static readonly GeoTiffWriter.Georeferencing Utm11 = new(500000, 4000000, 0.3, 32611);

    public SceneFileTests() => Directory.CreateDirectory(_directory);
    public void Dispose() => Directory.Delete(_directory, recursive: true);

    string Scene(string name = "scene.tif", GeoTiffWriter.Georeferencing? georeferencing = null, bool bigTiff = false)
    {
        string path = Path.Combine(_directory, name);
        var photos = SceneMosaic.UcmTestPhotos(SharedData.Path(), 12);
        SceneMosaic.Write(path, photos.Select(p => p.Path).ToList(), columns: 4, cellSize: 256, georeferencing ?? Utm11, bigTiff);
        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AWrittenGeoTiffReadsBackItsGeoreferencingAndItsPixelsTileByTile(bool bigTiff)
    {
        string path = Scene(bigTiff: bigTiff);
        using var scene = SceneImage.Open(path);
        Assert.Equal((1024, 768), (scene.Width, scene.Height));
        var geo = Assert.IsType<GeoReference>(scene.GeoReference);
        Assert.Equal("EPSG:32611", geo.CrsName);
        Assert.Equal((500000.0, 4000000.0), geo.ToCrs(0, 0));
        Assert.Equal(0.09, geo.PixelArea, 1e-9);

        // The tile at column 1, row 2 holds exactly the pixels of the tenth photo.
        var photos = SceneMosaic.UcmTestPhotos(SharedData.Path(), 12);
        var (expected, _, _) = ImageDecoder.DecodeRgb(File.ReadAllBytes(photos[9].Path));
        var (actual, w, h) = ImageDecoder.DecodeRgb(scene.ReadPng(new PixelWindow(256, 512, 256, 256)));
        Assert.Equal((256, 256), (w, h));
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void TheGeoJsonHasOnePolygonPerTileWhereProjPutsItAndASummaryByArea()
    {
        using var scene = SceneImage.Open(Scene());
        var tiling = new SceneTiling(256);
        var tiles = tiling.Tiles(scene.Width, scene.Height);
        var results = tiles.Select(t => t.Index == 5
            ? new TileResult(t, null, "the expert was unavailable", 1)
            : new TileResult(t, new TileCaption($"tile {t.Index}.", [new CaptionSection(CaptionPolicy.Theme, "theme", $"tile {t.Index}.")], t.Column == 0 ? "Forest." : "dense residential"), null, 1)).ToList();
        var json = SceneGeoJson.Build(scene, tiling, results);

        Assert.Equal("FeatureCollection", (string?)json["type"]);
        Assert.Equal("EPSG:32611", (string?)json["source_crs"]);
        Assert.Equal("wgs84", (string?)json["coordinates"]);
        var features = json["features"]!.AsArray();
        Assert.Equal(12, features.Count);
        var tile9 = features[9]!;   // column 1, row 2: pixels x 256–512, y 512–768
        Assert.Equal("Polygon", (string?)tile9["geometry"]!["type"]);
        var ring = tile9["geometry"]!["coordinates"]![0]!.AsArray().Select(p => ((double)p![0]!, (double)p[1]!)).ToList();
        (double, double)[] proj = [(-116.999146335, 36.142640872), (-116.998292670, 36.142640863), (-116.998292655, 36.143333271), (-116.999146328, 36.143333280)];
        Assert.Equal(5, ring.Count);
        Assert.Equal(ring[0], ring[4]);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(proj[i].Item1, ring[i].Item1, 1e-7);
            Assert.Equal(proj[i].Item2, ring[i].Item2, 1e-7);
        }
        Assert.True(SignedArea(ring) > 0, "the exterior ring runs counter-clockwise (RFC 7946)");
        var properties = tile9["properties"]!;
        Assert.Equal("dense residential", (string?)properties["theme"]);
        Assert.Equal("tile 9.", (string?)properties["caption"]);
        Assert.Equal("tile 9.", (string?)properties["sections"]!["theme"]);
        Assert.Equal(256, (int)properties["window"]!["x"]!);
        Assert.Equal(512, (int)properties["window"]!["y"]!);
        Assert.Equal("the expert was unavailable", (string?)features[5]!["properties"]!["error"]);

        // Themes by area: 8 of the 11 captioned tiles say dense residential, 3 forest ("Forest." normalised).
        var summary = json["summary"]!.AsArray();
        Assert.Equal(["dense residential", "forest"], summary.Select(s => (string?)s!["theme"]));
        Assert.Equal(8, (int)summary[0]!["tiles"]!);
        Assert.Equal(8 / 11.0, (double)summary[0]!["share"]!, 1e-6);
        Assert.Equal(3 * 65536 * 0.09, (double)summary[1]!["square_metres"]!, 0.05);   // rounded to 0.1 m²
        Assert.Equal(1, (int)json["scene"]!["failed"]!);
    }

    [Fact]
    public void AnImageWithoutGeoreferencingIsTiledInPixelCoordinates()
    {
        string png = Path.Combine(_directory, "plain.png");
        File.WriteAllBytes(png, File.ReadAllBytes(SharedData.Path("ucm-captions", "images", "1.jpg")));   // a JPEG under any name
        using var scene = SceneImage.Open(png);
        Assert.Null(scene.GeoReference);
        var tiling = new SceneTiling(128, 16);
        var results = tiling.Tiles(scene.Width, scene.Height).Select(t => new TileResult(t, new TileCaption("x", [], "farmland"), null, 1)).ToList();
        var json = SceneGeoJson.Build(scene, tiling, results);
        Assert.Equal("pixel", (string?)json["coordinates"]);
        Assert.Null(json["source_crs"]);
        var last = json["features"]!.AsArray()[^1]!["geometry"]!["coordinates"]![0]!.AsArray();
        Assert.Equal([128.0, 256.0], last[0]!.AsArray().Select(v => (double)v!));
        Assert.Null(json["summary"]![0]!["square_metres"]);
    }

    [Fact]
    public void HostileOrMalformedScenesAreRefusedWithAClearMessage()
    {
        string Write(string name, byte[] bytes) { string p = Path.Combine(_directory, name); File.WriteAllBytes(p, bytes); return p; }
        Assert.Contains("empty", Refused(Write("empty.tif", [])));
        Assert.Contains("not an image", Refused(Write("text.tif", "hello, not a scene"u8.ToArray())));
        Assert.Contains("truncated", Refused(Write("header.tif", [(byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0, 1])));
        Assert.Contains("claims 1024×768 pixels; at most 500,000", Assert.Throws<SceneRejectedException>(() => SceneImage.Open(Scene(), new SceneLimits { MaxPixels = 500_000 })).Message);

        // A header claiming a million pixels a side, with no pixel data: refused on the header.
        string huge = Path.Combine(_directory, "huge.tif");
        using (var tiff = Tiff.Open(huge, "w"))
        {
            tiff.SetField(TiffTag.IMAGEWIDTH, 1_000_000); tiff.SetField(TiffTag.IMAGELENGTH, 1_000_000);
            tiff.SetField(TiffTag.SAMPLESPERPIXEL, 3); tiff.SetField(TiffTag.BITSPERSAMPLE, 8);
            tiff.SetField(TiffTag.PHOTOMETRIC, Photometric.RGB); tiff.SetField(TiffTag.TILEWIDTH, 256); tiff.SetField(TiffTag.TILELENGTH, 256);
            tiff.WriteDirectory();
        }
        Assert.Matches("claims 1000000×1000000 pixels|cannot be read", Refused(huge));

        // Pixels cut off: the header opens, the tiles past the cut fail one by one with a message.
        string scene = Scene();
        byte[] whole = File.ReadAllBytes(scene);
        string cut = Write("cut.tif", whole[..(whole.Length / 2)]);
        try
        {
            using var opened = SceneImage.Open(cut);
            var error = Assert.Throws<SceneRejectedException>(() => opened.ReadPng(new PixelWindow(768, 512, 256, 256)));
            Assert.Contains("cannot be read", error.Message);
        }
        catch (SceneRejectedException e) { Assert.Contains("cannot be read", e.Message); }

        // Georeferencing that cannot be used: an unsupported CRS and a short tie-point.
        Assert.Contains("EPSG:2154 is not supported", Refused(Scene("lambert.tif", Utm11 with { Epsg = 2154 })));
        string badTie = Scene("tie.tif");
        using (var tiff = Tiff.Open(badTie, "a"))
        {
            tiff.SetDirectory(0);
            tiff.SetField(TiffTag.GEOTIFF_MODELTIEPOINTTAG, 5, new[] { 0.0, 0, 0, 1, 2 });
            tiff.RewriteDirectory();
        }
        Assert.Contains("ModelTiepoint holds 5 values", Refused(badTie));
        using (var plain = SceneImage.Open(Scene("lambert2.tif", Utm11 with { Epsg = 2154 }), pixelCoordinates: true)) Assert.Null(plain.GeoReference);
    }

    static string Refused(string path) => Assert.Throws<SceneRejectedException>(() => SceneImage.Open(path).Dispose()).Message;

    static double SignedArea(List<(double X, double Y)> ring) =>
        ring.Zip(ring.Skip(1)).Sum(p => p.First.X * p.Second.Y - p.Second.X * p.First.Y) / 2;
}
