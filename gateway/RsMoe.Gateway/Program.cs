using RsMoe.Gateway;
using RsMoe.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("gateway");
builder.AddGateway();

var app = builder.Build();
app.MapGateway();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
