using System.Diagnostics;
using System.Text.Json;
using RsMoe.Scenes;

namespace RsMoe.Scenes.Tests;

/// <summary>
/// GeoTIFF interchange with GDAL, the reference implementation (Debian's gdal-bin; .ci/run installs it): files GDAL
/// writes (tiled BigTIFF, striped, PixelIsArea and PixelIsPoint) are placed where GDAL places them, and GDAL reads the
/// files this project writes as they were meant.
/// </summary>
public sealed class GdalInteropTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rsmoe-gdal-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException($"{tool} is missing: apt-get install gdal-bin (.ci/run installs it)", e); }
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{tool} failed: {error}");
        return output;
    }

    static JsonElement GdalInfo(string path) => JsonDocument.Parse(Run("gdalinfo", "-json", path)).RootElement.Clone();

    [Theory]
    [InlineData("tiled-bigtiff.tif", "Area", "-co", "TILED=YES", "-co", "BIGTIFF=YES", "-co", "COMPRESS=LZW")]
    [InlineData("striped-point.tif", "Point", "-co", "COMPRESS=DEFLATE")]
    public void A_GeoTIFF_written_by_GDAL_is_placed_where_GDAL_places_it(string name, string rasterType, params string[] options)
    {
        string path = Path.Combine(_dir, name);
        // One UCM photo, 256 × 256, in UTM zone 33N with 1 m pixels.
        Run("gdal_translate", [
            "-q", "-of", "GTiff", .. options, "-a_srs", "EPSG:32633", "-a_ullr", "399000", "5600000", "399256", "5599744",
            "-mo", $"AREA_OR_POINT={rasterType}", SharedData.Path("ucm-captions", "images", "1.jpg"), path,
        ]);
        var gdal = GdalInfo(path);
        var transform = gdal.GetProperty("geoTransform").EnumerateArray().Select(v => v.GetDouble()).ToArray();

        using var scene = SceneImage.Open(path);
        Assert.Equal((256, 256), (scene.Width, scene.Height));
        var geo = Assert.IsType<GeoReference>(scene.GeoReference);
        Assert.Equal("EPSG:32633", geo.CrsName);
        foreach (var (column, row) in new[] { (0, 0), (256, 0), (0, 256), (256, 256), (100, 37) })
        {
            var (x, y) = geo.ToCrs(column, row);
            Assert.Equal(transform[0] + column * transform[1] + row * transform[2], x, 1e-6);
            Assert.Equal(transform[3] + column * transform[4] + row * transform[5], y, 1e-6);
        }
        // GDAL's WGS84 outline (PROJ, 7 decimals) has the scene's corners: upper left, lower left, lower right, upper right.
        var extent = gdal.GetProperty("wgs84Extent").GetProperty("coordinates")[0].EnumerateArray()
            .Select(p => (Lon: p[0].GetDouble(), Lat: p[1].GetDouble())).ToArray();
        var corners = new[] { (0, 0), (0, 256), (256, 256), (256, 0) };
        for (int i = 0; i < 4; i++)
        {
            var (lon, lat) = geo.ToWgs84(corners[i].Item1, corners[i].Item2);
            Assert.Equal(extent[i].Lon, lon, 1e-6);
            Assert.Equal(extent[i].Lat, lat, 1e-6);
        }
    }

    [Fact]
    public void GDAL_reads_the_GeoTIFF_this_project_writes_as_it_was_meant()
    {
        string path = Path.Combine(_dir, "ours.tif");
        var photos = SceneMosaic.UcmTestPhotos(SharedData.Path(), 2).Select(p => p.Path).ToList();
        SceneMosaic.Write(path, photos, columns: 2, cellSize: 256, new GeoTiffWriter.Georeferencing(500000, 4000000, 0.3, 32611), bigTiff: true);
        var gdal = GdalInfo(path);
        Assert.Equal([512, 256], gdal.GetProperty("size").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal([500000, 0.3, 0, 4000000, 0, -0.3], gdal.GetProperty("geoTransform").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Contains("ID[\"EPSG\",32611]", gdal.GetProperty("coordinateSystem").GetProperty("wkt").GetString());
        Assert.Equal("Area", gdal.GetProperty("metadata").GetProperty("").GetProperty("AREA_OR_POINT").GetString());
        Assert.Equal(3, gdal.GetProperty("bands").GetArrayLength());
    }
}
